"""The Delta Sharing server of ``civlake serve`` (``/delta-sharing/...``, issue 19 item 1).

Stock clients (the ``delta-sharing`` Python connector, its Spark connector, Power BI)
read an agency's granted datasets with the profile ``civlake agency create --profile``
writes. One share per agency (``names.share_name``), one schema (``civlake``), one
table per granted, published dataset; a table's version N is published version N.
``query`` and ``changes`` answer with short-lived signed URLs (``signing``) to Parquet
files that civlake itself serves (``files``): the published file, or, for a
district-scoped grant or a change feed, a file derived once and cached under the state
folder. Routes: ``serve/routes/sharing.py``.
"""
