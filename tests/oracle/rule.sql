-- "MFA Rejected by User" v2.0.4 as DuckDB SQL: an independent oracle for shared/detection.py.
--
-- Written from the rule semantics (now docs/rule-semantics.md) without looking at the Python port. Input: three
-- views made by tests/oracle/sql_port.py over the fixture files, already in Kusto's value model:
--   signin_rows   (TimeGenerated TIMESTAMP, ResultType JSON, Status JSON, UserPrincipalName,
--                  UserId, AADTenantId, IPAddress VARCHAR)
--   identity_rows (file_order BIGINT, TimeGenerated TIMESTAMP, AccountUPN VARCHAR, Tags JSON,
--                  GroupMembership JSON, AssignedRoles JSON, UserType VARCHAR)
--   behavior_rows (TimeGenerated TIMESTAMP, ActivityType, SourceIPAddress, UserName VARCHAR,
--                  InvestigationPriority BIGINT)
-- Strings are never NULL there (Kusto strings are never null: a missing string is ''); dynamic
-- values are JSON (JSON text given for a dynamic column is parsed), NULL when absent.
-- Parameter: $cutoff (riskScoreCutoff, 3 in the rule).
--
-- The file has two parts, split on the "-- @@" lines: the macros (run once per connection) and
-- the query.

-- @@ macros

-- `column == <long literal>` on a string column: text compares with the canonical decimal text
-- ("500121"; not "0500121" or " 500121"); a number given by a fixture compares by value.
CREATE OR REPLACE MACRO kql_equals_long(value, literal) AS
    CASE json_type(value)
        WHEN 'VARCHAR' THEN (value ->> '$') = CAST(literal AS VARCHAR)
        WHEN 'BIGINT' THEN CAST(value AS BIGINT) = literal
        WHEN 'UBIGINT' THEN CAST(value AS HUGEINT) = literal
        WHEN 'DOUBLE' THEN CAST(value AS DOUBLE) = literal
        ELSE false
    END;

-- `obj.key`: NULL unless obj is an object holding that exact (case-sensitive) key.
CREATE OR REPLACE MACRO kql_member(obj, key) AS
    CASE WHEN json_type(obj) = 'OBJECT' THEN json_extract(obj, '$."' || key || '"') END;

-- `tostring(dynamic)`: null -> "", a string -> its bare text, a bool -> true/false, a number ->
-- its text, an object or array -> compact JSON.
CREATE OR REPLACE MACRO kql_tostring(value) AS
    CASE
        WHEN value IS NULL OR json_type(value) = 'NULL' THEN ''
        WHEN json_type(value) = 'VARCHAR' THEN value ->> '$'
        WHEN json_type(value) = 'BOOLEAN' THEN CASE WHEN CAST(value AS BOOLEAN) THEN 'true' ELSE 'false' END
        ELSE CAST(json(value) AS VARCHAR)
    END;

-- `text =~ constant`: whole-string equality ignoring case (ordinal: both sides upper-cased one
-- character at a time). Not a substring test.
CREATE OR REPLACE MACRO kql_equals_ci(text, constant) AS
    length(text) = length(constant) AND upper(text) = upper(constant);

-- `text has term`: term is a whole term of text ignoring case; a term is a maximal run of
-- letters and digits (Unicode \pL \pN), every other character (space, ; - _ . @ /) separates.
-- RE2's [[:alnum:]] is ASCII-only and \w includes "_", hence the explicit classes.
CREATE OR REPLACE MACRO kql_has(text, term) AS
    regexp_matches(text, '(?i)(^|[^\pL\pN])' || term || '($|[^\pL\pN])');

-- `make_set(x, 1000)` over a single value (each IdentityInfo group has exactly one row after
-- arg_max): nulls ignored, a dynamic array contributes its elements, anything else itself.
-- Returns a JSON array; element order is undefined in Kusto.
CREATE OR REPLACE MACRO kql_make_set_of_one(value) AS
    CASE
        WHEN value IS NULL OR json_type(value) = 'NULL' THEN CAST('[]' AS JSON)
        WHEN json_type(value) = 'ARRAY' THEN CAST(
            list_distinct(list_filter(json_extract(value, '$[*]'), lambda e: json_type(e) <> 'NULL'))[1:1000]
            AS JSON)
        ELSE CAST(to_json([value]) AS JSON)
    END;

-- @@ query

WITH
-- SigninLogs
-- | where ResultType == 500121
-- | extend additionalDetails_ = tostring(Status.additionalDetails)
-- | extend UserPrincipalName = tolower(UserPrincipalName)
signins AS (
    SELECT
        TimeGenerated,
        lower(UserPrincipalName) AS UserPrincipalName,
        UserId,
        AADTenantId,
        IPAddress,
        kql_tostring(kql_member(Status, 'additionalDetails')) AS additionalDetails_
    FROM signin_rows
    WHERE kql_equals_long(ResultType, 500121)
),
-- | where additionalDetails_ =~ "MFA denied; user declined the authentication" or additionalDetails_ has "fraud"
-- | summarize StartTime = min(TimeGenerated), EndTIme = max(TimeGenerated)
--     by UserPrincipalName, UserId, AADTenantId, FailedIPAddress = IPAddress
rejected AS (
    SELECT
        UserPrincipalName,
        UserId,
        AADTenantId,
        IPAddress AS FailedIPAddress,
        min(TimeGenerated) AS StartTime,
        max(TimeGenerated) AS EndTIme
    FROM signins
    WHERE kql_equals_ci(additionalDetails_, 'MFA denied; user declined the authentication')
       OR kql_has(additionalDetails_, 'fraud')
    GROUP BY UserPrincipalName, UserId, AADTenantId, IPAddress
),
-- | extend Name = tostring(split(UserPrincipalName,'@',0)[0]), UPNSuffix = tostring(split(UserPrincipalName,'@',1)[0])
named AS (
    SELECT
        *,
        split_part(UserPrincipalName, '@', 1) AS Name,
        split_part(UserPrincipalName, '@', 2) AS UPNSuffix
    FROM rejected
),
-- IdentityInfo
-- | summarize LatestReportTime = arg_max(TimeGenerated, *) by AccountUPN   (exact case; null
--   TimeGenerated loses; ties, OPEN in Kusto, go to the row read first)
latest_identity AS (
    SELECT * FROM (
        SELECT
            *,
            row_number() OVER (
                PARTITION BY AccountUPN ORDER BY TimeGenerated DESC NULLS LAST, file_order
            ) AS pick
        FROM identity_rows
    )
    WHERE pick = 1
),
-- | project AccountUPN, Tags, JobTitle, GroupMembership, AssignedRoles, UserType, IsAccountEnabled
-- | summarize Tags = make_set(Tags, 1000), GroupMembership = make_set(GroupMembership, 1000),
--     AssignedRoles = make_set(AssignedRoles, 1000), UserType = make_set(UserType, 1000),
--     UserAccountControl = make_set(UserType, 1000) by AccountUPN
-- | extend UserPrincipalName=tolower(AccountUPN)
enrichment AS (
    SELECT
        AccountUPN,
        kql_make_set_of_one(Tags) AS Tags,
        kql_make_set_of_one(GroupMembership) AS GroupMembership,
        kql_make_set_of_one(AssignedRoles) AS AssignedRoles,
        kql_make_set_of_one(to_json(UserType)) AS UserType,
        -- aggregates the *input* UserType column: a copy of the UserType set (a quirk of the rule)
        kql_make_set_of_one(to_json(UserType)) AS UserAccountControl,
        lower(AccountUPN) AS UserPrincipalName
    FROM latest_identity
),
-- | join kind=leftouter (...) on UserPrincipalName   (k matches -> k rows; none -> "" / null)
enriched AS (
    SELECT
        n.UserPrincipalName,
        n.UserId,
        n.AADTenantId,
        n.FailedIPAddress,
        n.StartTime,
        n.EndTIme,
        n.Name,
        n.UPNSuffix,
        coalesce(e.AccountUPN, '') AS AccountUPN,
        e.Tags,
        e.GroupMembership,
        e.AssignedRoles,
        e.UserType,
        e.UserAccountControl
    FROM named AS n
    LEFT JOIN enrichment AS e ON e.UserPrincipalName = n.UserPrincipalName
),
-- BehaviorAnalytics
-- | where ActivityType in ("FailedLogOn", "LogOn")            (case-sensitive)
-- | where isnotempty(SourceIPAddress)                          ("" only; " " and "-" stay)
-- | project-rename FailedIPAddress = SourceIPAddress, Name = UserName
-- | summarize MaxInvestigationScore = max(InvestigationPriority) by FailedIPAddress, Name
scores AS (
    SELECT
        SourceIPAddress AS FailedIPAddress,
        UserName AS Name,
        max(InvestigationPriority) AS MaxInvestigationScore
    FROM behavior_rows
    WHERE ActivityType IN ('FailedLogOn', 'LogOn') AND SourceIPAddress <> ''
    GROUP BY SourceIPAddress, UserName
)
-- | join kind=leftouter (...) on FailedIPAddress, Name        (byte-for-byte equality)
-- | extend UEBARiskScore = MaxInvestigationScore
-- | project-away *1
-- | where UEBARiskScore > riskScoreCutoff                      (null never passes)
-- | sort by UEBARiskScore desc
SELECT
    r.UserPrincipalName,
    r.UserId,
    r.AADTenantId,
    r.FailedIPAddress,
    r.StartTime,
    r.EndTIme,
    r.Name,
    r.UPNSuffix,
    r.AccountUPN,
    r.Tags,
    r.GroupMembership,
    r.AssignedRoles,
    r.UserType,
    r.UserAccountControl,
    s.MaxInvestigationScore,
    s.MaxInvestigationScore AS UEBARiskScore
FROM enriched AS r
LEFT JOIN scores AS s ON s.FailedIPAddress = r.FailedIPAddress AND s.Name = r.Name
WHERE s.MaxInvestigationScore > $cutoff
ORDER BY s.MaxInvestigationScore DESC
