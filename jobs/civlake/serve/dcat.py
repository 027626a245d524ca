"""DCAT-AP 3.0 catalogue as JSON-LD (``/catalog.jsonld``, the ckanext-dcat path).

Every node is typed with the class DCAT-AP's SHACL range shapes expect (foaf:Agent,
skos:Concept, dct:Frequency, dct:LicenseDocument, dct:Location, dct:PeriodOfTime,
dct:MediaTypeOrExtent, spdx:Checksum ...), literals carry their datatypes, and the
mandatory properties are present: catalogue title/description/publisher, dataset
title/description, distribution accessURL. EU controlled vocabularies do not apply to
a Chinese publisher, except the frequency authority, which is universal and resolvable.
Restricted (有条件共享) datasets are described but their distributions point at the
grant-checked download URLs and say so in dct:accessRights.
"""

from __future__ import annotations

from urllib.parse import quote

from civlake.publish.catalog import FREQUENCIES
from civlake.serve.directory import Directory

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "spdx": "http://spdx.org/rdf/terms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "adms": "http://www.w3.org/ns/adms#",
}
FREQ_BASE = "http://publications.europa.eu/resource/authority/frequency/"
MEDIA = "https://www.iana.org/assignments/media-types/"


def _zh(text: str) -> dict:
    return {"@value": text, "@language": "zh"}


def _date(value: str) -> dict:
    return {"@value": value, "@type": "xsd:date"}


def _datetime(value: str) -> dict:
    return {"@value": value, "@type": "xsd:dateTime"}


def build_catalog(directory: Directory, base_url: str) -> dict:
    packages = [directory.package(ds, base_url) for ds in directory.catalog.values()]
    publisher = {
        "@id": f"{base_url}organization/gz-mzj",
        "@type": "foaf:Agent",
        "foaf:name": _zh("广州市民政局"),
    }
    return {
        "@context": CONTEXT,
        "@id": f"{base_url}catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": _zh("广州市民政数据开放目录"),
        "dct:description": _zh("广州市民政局发布的开放数据集与有条件共享数据集目录。"),
        "dct:publisher": publisher,
        "foaf:homepage": {"@id": base_url, "@type": "foaf:Document"},
        "dct:language": {
            "@id": "http://publications.europa.eu/resource/authority/language/ZHO",
            "@type": "dct:LinguisticSystem",
        },
        "dcat:dataset": [_dataset(p, directory, base_url) for p in packages],
    }


def _dataset(pkg: dict, directory: Directory, base_url: str) -> dict:
    ds = directory.catalog[pkg["name"]]
    node = {
        "@id": f"{base_url}dataset/{ds.name}",
        "@type": "dcat:Dataset",
        "dct:identifier": ds.identifier,
        "dct:title": _zh(ds.title),
        "dct:description": _zh(ds.description),
        "dcat:keyword": [_zh(k) for k in ds.keywords],
        "dcat:theme": {
            "@id": f"{base_url}theme/{quote(ds.theme)}",
            "@type": "skos:Concept",
            "skos:prefLabel": _zh(ds.theme),
        },
        "dct:publisher": {
            "@id": f"{base_url}organization/{ds.publisher_id}",
            "@type": "foaf:Agent",
            "foaf:name": _zh(ds.publisher),
        },
        "dct:issued": _date(ds.issued.isoformat()),
        "dct:modified": _datetime(pkg["metadata_modified"]),
        "dct:accrualPeriodicity": {
            "@id": FREQ_BASE + FREQUENCIES[ds.update_frequency],
            "@type": "dct:Frequency",
        },
        "dct:spatial": {
            "@id": f"{base_url}division/{ds.spatial_coverage['code']}",
            "@type": "dct:Location",
            "skos:prefLabel": _zh(ds.spatial_coverage["name"]),
        },
        "dct:temporal": _temporal(pkg),
        "dct:accessRights": _rights(ds.open_type, ds.share_type, base_url),
        "dcat:landingPage": {"@id": pkg["url"], "@type": "foaf:Document"},
        "adms:versionNotes": _zh(f"开放类型：{ds.open_type}；共享类型：{ds.share_type}"),
        "dcat:distribution": [_distribution(r, ds, base_url) for r in pkg["resources"]],
    }
    if pkg["version"]:
        node["dcat:version"] = pkg["version"]
    return node


def _temporal(pkg: dict) -> dict:
    node: dict = {"@type": "dct:PeriodOfTime"}
    for key, prop in (("temporal_start", "dcat:startDate"), ("temporal_end", "dcat:endDate")):
        value = pkg[key]
        if value:
            # Monthly coverage ("2026-10") is an xsd:gYearMonth; full dates are xsd:date.
            node[prop] = {
                "@value": value,
                "@type": "xsd:gYearMonth" if len(value) == 7 else "xsd:date",
            }
    return node


def _rights(open_type: str, share_type: str, base_url: str) -> dict:
    return {
        "@id": f"{base_url}rights/{quote(open_type)}",
        "@type": "dct:RightsStatement",
        "dct:description": _zh(f"{open_type}；{share_type}"),
    }


def _distribution(res: dict, ds, base_url: str) -> dict:
    node = {
        "@id": f"{base_url}dataset/{ds.name}/resource/{res['id']}",
        "@type": "dcat:Distribution",
        "dct:title": _zh(res["name"]),
        "dcat:accessURL": {"@id": res["url"]},
        "dcat:downloadURL": {"@id": res["url"]},
        "dct:format": {
            "@id": f"{base_url}format/{res['format']}",
            "@type": "dct:MediaTypeOrExtent",
        },
        "dcat:mediaType": {"@id": MEDIA + res["mimetype"], "@type": "dct:MediaType"},
        "dct:license": {
            "@id": ds.license["url"],
            "@type": "dct:LicenseDocument",
            "dct:title": _zh(ds.license["title"]),
        },
        "dct:rights": _rights(ds.open_type, ds.share_type, base_url),
        "dct:issued": _datetime(res["created"]),
    }
    if res.get("size") is not None:
        node["dcat:byteSize"] = {"@value": str(res["size"]), "@type": "xsd:nonNegativeInteger"}
    if res.get("hash"):
        node["spdx:checksum"] = {
            "@type": "spdx:Checksum",
            "spdx:algorithm": {
                "@id": "http://spdx.org/rdf/terms#checksumAlgorithm_sha256",
                "@type": "spdx:ChecksumAlgorithm",
            },
            "spdx:checksumValue": {
                "@value": res["hash"].removeprefix("sha256:"),
                "@type": "xsd:hexBinary",
            },
        }
    return node
