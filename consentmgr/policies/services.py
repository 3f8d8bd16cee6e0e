"""The policies area's public face: what other areas and the boundaries call.

- :mod:`consentmgr.policies.publishing` — publish the versions in a directory
  of policy files (all or nothing; published versions never change);
- :mod:`consentmgr.policies.versions` — the published versions: the one in
  effect, its neighbours, its purposes, its document (in a language);
- :mod:`consentmgr.policies.changes` — what changed between two versions.

Reading and checking the files themselves is :mod:`consentmgr.policies.loader`.
"""

from __future__ import annotations

from consentmgr.policies.changes import (
    CategoryChange,
    DiffHunk,
    PurposeComparison,
    VersionComparison,
    compare_versions,
)
from consentmgr.policies.publishing import (
    PolicyChanged,
    PolicyInvalid,
    PublishReport,
    publish_policies,
)
from consentmgr.policies.versions import (
    ENGLISH,
    Notice,
    PolicyNotFound,
    VersionInfo,
    VersionStatus,
    current_version,
    describe_version,
    document_of,
    get_notice,
    get_purpose,
    get_version,
    list_versions,
    previous_version,
    purposes_of,
    status_of,
    upcoming_version,
    version_history,
)

__all__ = [
    "ENGLISH",
    "CategoryChange",
    "DiffHunk",
    "Notice",
    "PolicyChanged",
    "PolicyInvalid",
    "PolicyNotFound",
    "PublishReport",
    "PurposeComparison",
    "VersionComparison",
    "VersionInfo",
    "VersionStatus",
    "compare_versions",
    "current_version",
    "describe_version",
    "document_of",
    "get_notice",
    "get_purpose",
    "get_version",
    "list_versions",
    "previous_version",
    "publish_policies",
    "purposes_of",
    "status_of",
    "upcoming_version",
    "version_history",
]
