"""The permission-checked operations: the one way any entry point changes an object.

The flow, Mon compte, the console, the admin API, registration, import and the CLI call
these (never the ORM): each checks the principal (:mod:`idp.core.staff`) and then the
object's rules module. This package is a layer above the rules and above staff powers
(the import contract in ``pyproject.toml`` names it).
"""

from .base import AdminError, acting, epoch_now, realm_for, system_principal
from .clients import (
    ADMIN_SCOPES,
    GRANTS,
    ClientLine,
    SignIn,
    clean_client_meta,
    create_client,
    delete_client,
    get_client,
    list_clients,
    recent_sign_ins,
    rotate_secret,
    set_client_enabled,
    update_client,
)
from .customers import (
    COUNT_CAP,
    PER_PAGE,
    CustomerFile,
    SearchPage,
    customer,
    customer_file,
    end_sessions,
    issue_temporary_code,
    resend_verification,
    search_customers,
    set_email,
    set_enabled,
    unlink,
    unlock,
)
from .privacy import export_customer, pending_deletions, refuse_deletion
from .realms import (
    EDITABLE,
    MASK,
    ProviderLine,
    realm_by_slug,
    realm_settings,
    save_provider,
    update_settings,
)

__all__ = [
    "ADMIN_SCOPES", "COUNT_CAP", "EDITABLE", "GRANTS", "MASK", "PER_PAGE", "AdminError",
    "ClientLine", "CustomerFile", "ProviderLine", "SearchPage", "SignIn", "acting",
    "clean_client_meta", "create_client", "customer", "customer_file", "delete_client",
    "end_sessions", "epoch_now", "export_customer", "get_client", "issue_temporary_code",
    "list_clients", "pending_deletions", "realm_by_slug", "realm_for", "realm_settings",
    "recent_sign_ins", "refuse_deletion", "resend_verification", "rotate_secret",
    "save_provider", "search_customers", "set_client_enabled", "set_email", "set_enabled",
    "system_principal", "unlink", "unlock", "update_client", "update_settings",
]
