"""Solr query syntax for package_search: the parser, and search over the catalog."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civlake.serve import ckan, ckan_search
from civlake.serve.ckan_query import (
    MAX_DEPTH,
    All,
    And,
    Not,
    Or,
    QueryError,
    Range,
    Term,
    parse,
)
from civlake.serve.directory import Directory
from civlake.serve.errors import ApiError

FIELDS = ckan_search.SEARCH_FIELDS


def p(text: str):
    return parse(text, fields=FIELDS, ranges=ckan_search.RANGE_FIELDS)


@pytest.fixture(scope="module")
def directory(tmp_path_factory) -> Directory:
    # Nothing published: search reads the catalog only (resources need a publish).
    return Directory.load(Path(tmp_path_factory.mktemp("publish")))


def names(directory: Directory, **params) -> list[str]:
    params.setdefault("rows", 1000)
    return [pkg["name"] for pkg in ckan.package_search(directory, params, "http://x/")["results"]]


# --- the parser ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("低保", Term(None, "低保")),
        ("tags:低保", Term("tags", "低保")),
        ('title:"低保 对象"', Term("title", "低保 对象", phrase=True)),
        ("organization:gz-mzj", Term("organization", "gz-mzj")),
        (r"name:a\:b", Term("name", "a:b")),
        ("*:*", All()),
        ("", All()),
        ("a b", And((Term(None, "a"), Term(None, "b")))),
        ("a AND b OR c", Or((And((Term(None, "a"), Term(None, "b"))), Term(None, "c")))),
        ("a OR b c", Or((Term(None, "a"), And((Term(None, "b"), Term(None, "c")))))),
        ("a && (b || !c)", And((Term(None, "a"), Or((Term(None, "b"), Not(Term(None, "c"))))))),
        ("-tags:x +tags:y", And((Not(Term("tags", "x")), Term("tags", "y")))),
        ("NOT NOT a", Not(Not(Term(None, "a")))),
        ("tags:(低保 OR 特困)", Or((Term("tags", "低保"), Term("tags", "特困")))),
        ("a and b", And((Term(None, "a"), Term(None, "and"), Term(None, "b")))),  # lower case
        ("gz-mzj", Term(None, "gz-mzj")),  # a hyphen inside a word is not NOT
        (
            "metadata_modified:[2026-01-01T00:00:00Z TO *]",
            Range("metadata_modified", "2026-01-01T00:00:00Z", None),
        ),
        (
            "metadata_created:{2020-01-01 TO 2021-01-01]",
            Range("metadata_created", "2020-01-01", "2021-01-01", include_low=False),
        ),
    ],
)
def test_parses(text, tree) -> None:
    assert p(text) == tree


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("foo:bar", "unknown field 'foo'"),
        ("tags:", "needs a value"),
        ("(a", "missing ')'"),
        ("a)", "unexpected ')'"),
        ('title:"低保', "unterminated"),
        ("a OR", "found end of query"),
        ("AND a", "found 'AND'"),
        ("name:*", "wildcards"),
        ("name:assist?nce", "wildcards"),
        ("title:foo~2", "fuzzy"),
        ("title:foo^4", "boosts"),
        ("title:[a TO b]", "ranges only on"),
        ("metadata_modified:[2020 2021]", "[low TO high]"),
        ("metadata_modified:[2020 TO *", "not closed"),
        ("a\\", "backslash"),
        (":a", "unexpected ':'"),
        ("*:x", "only *:*"),
        ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), "nested more than"),
        ("NOT " * (MAX_DEPTH + 1) + "a", "nested more than"),
        ("a " * 600, "longer than"),
    ],
)
def test_refuses(text, why) -> None:
    with pytest.raises(QueryError, match=re.escape(why)):
        p(text)


def test_deep_but_allowed_nesting_parses() -> None:
    text = "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert p(text) == Term(None, "a")
    assert p("+" * 900 + "a") == Term(None, "a")  # a run of + is not a recursion


# --- search over the catalog --------------------------------------------------------


def test_fielded_queries_find_what_ckan_finds(directory) -> None:
    assert set(names(directory, q="tags:低保")) == {
        "assistance_recipients_current",
        "assistance_statistics",
    }
    assert set(names(directory, q="organization:gz-shzz")) == {
        "social_organization_registry",
        "social_organization_statistics",
    }
    assert names(directory, q="name:deaths_registry") == ["deaths_registry"]
    assert names(directory, q="tags:低") == []  # a tag matches whole, as a Solr string field
    assert names(directory, q='title:"社会救助 统计"') == ["assistance_statistics"]
    assert names(directory, q="groups:殡葬服务 AND NOT tags:统计") == ["deaths_registry"]
    assert set(names(directory, q="tags:(低保 OR 死亡)")) == set(
        names(directory, q="tags:低保 OR tags:死亡")
    ) == {"assistance_recipients_current", "assistance_statistics",
          "deaths_cremations_statistics", "deaths_registry"}  # fmt: skip
    assert len(names(directory, q="*:*")) == len(directory.catalog)
    assert names(directory, q="死亡 火化", fq="level:aggregate") == ["deaths_cremations_statistics"]


def test_fq_clauses_are_anded_and_must_name_fields(directory) -> None:
    assert names(directory, fq='groups:社会救助 +open_type:"无条件开放"') == [
        "assistance_statistics"
    ]
    assert names(directory, fq="groups:社会救助 -level:person") == ["assistance_statistics"]
    with pytest.raises(ApiError) as err:
        names(directory, fq="社会救助")
    assert err.value.status == 409 and "names no field" in err.value.detail["fq"][0]


def test_sort_and_paging(directory) -> None:
    by_name = names(directory, sort="name asc")
    assert by_name == sorted(directory.catalog)
    assert names(directory, sort="name desc") == by_name[::-1]
    assert names(directory, sort="name asc", rows=3, start=3) == by_name[3:6]
    titles = [directory.catalog[n].title for n in names(directory, sort="title_string asc")]
    assert titles == sorted(titles)
    # relevance: a word in the title and tags outranks one only in the description
    ranked = names(directory, q="统计")
    assert ranked[0].endswith("_statistics")
    with pytest.raises(ApiError, match="unsupported sort"):
        names(directory, sort="name sideways")


def test_facets_with_limit_and_mincount(directory) -> None:
    result = ckan.package_search(
        directory,
        {"q": "tags:统计", "facet.field": '["tags", "organization"]', "facet.limit": "2"},
        "http://x/",
    )
    tags = result["facets"]["tags"]
    assert next(iter(tags)) == "统计" and tags["统计"] == result["count"] and len(tags) == 2
    items = result["search_facets"]["organization"]["items"]
    assert items[0]["name"] == "gz-mzj" and items[0]["display_name"] != "gz-mzj"
    every = ckan.package_search(
        directory, {"facet.field": '["tags"]', "facet.limit": "-1", "facet.mincount": "2"}, ""
    )["facets"]["tags"]
    assert every and min(every.values()) >= 2
    with pytest.raises(ApiError, match="facet field not supported"):
        ckan.package_search(directory, {"facet.field": '["notes"]'}, "")


@pytest.mark.parametrize(
    "params",
    [{"q": "nope:x"}, {"q": "title:(a"}, {"fq": "theme:x OR 1=1"}, {"q": "metadata_modified:[x TO *]"}],
)  # fmt: skip
def test_bad_queries_are_ckan_validation_errors(directory, params) -> None:
    with pytest.raises(ApiError) as err:
        ckan.package_search(directory, params, "")
    body = err.value.body()
    assert err.value.status == 409 and body["error"]["__type"] == "Validation Error"
    assert set(params) <= set(body["error"])


# --- hostile text: only ever a validation error ---------------------------------------

SYNTAX = st.sampled_from(
    ["(", ")", '"', ":", "AND", "OR", "NOT", "&&", "||", "!", "+", "-", "*", "?", "~", "^",
     "[", "]", "{", "}", " TO ", "\\", " ", "tags:", "name:", "title:", "*:*", "低保", "x",
     "metadata_modified:", "2026-01-01", "\u2028", "\x00"]
)  # fmt: skip
QUERIES = st.one_of(st.text(max_size=300), st.lists(SYNTAX, max_size=60).map("".join))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=QUERIES)
def test_any_text_parses_or_is_a_query_error(text) -> None:
    with contextlib.suppress(QueryError):
        p(text)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=QUERIES, fq=QUERIES)
def test_any_text_in_q_or_fq_is_an_answer_or_a_409(directory, q, fq) -> None:
    try:
        result = ckan.package_search(directory, {"q": q, "fq": fq}, "")
    except ApiError as err:
        assert err.status == 409 and err.kind == "Validation Error"
    else:
        assert 0 <= result["count"] <= len(directory.catalog)
