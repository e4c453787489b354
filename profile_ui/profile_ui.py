"""The Reflex app: rx.App and its pages. Behaviour lives in pages/, state/ and services/."""

import functools

import reflex as rx

from . import routes
from .jobs.runner import embedded_consumer_lifespan
from .pages import (
    audit,
    duplicates,
    exports,
    import_new,
    imports,
    index,
    login,
    profiles,
    segments,
    settings,
    tags,
    trash,
)
from .settings import get_settings
from .state.base import SESSION_COOKIE, page_load_events
from .web.auth_session import AuthEndpoints
from .web.export_download import ExportDownloads
from .web.security_headers import SecurityHeaders
from .web.upload_guard import UploadGuard
from .web.upload_parts import keep_upload_parts_in_memory

keep_upload_parts_in_memory()  # an uploaded file never spills to a plain temporary file
app = rx.App(
    api_transformer=[
        functools.partial(UploadGuard, session_cookie=SESSION_COOKIE),
        functools.partial(ExportDownloads, session_cookie=SESSION_COOKIE),
        # POST /auth/session and /auth/sign-out: the HttpOnly session cookie, set by the server
        functools.partial(AuthEndpoints, session_cookie=SESSION_COOKIE),
        # outermost: every response, the download's and the pages' included
        functools.partial(SecurityHeaders, https=get_settings().app_url.startswith("https://")),
    ],
)
# import/export jobs run in this process too unless EMBEDDED_WORKER=false (then only
# `profile-ui worker` processes take them)
app.register_lifespan_task(embedded_consumer_lifespan)


def _title(name: str) -> str:
    return f"{name} · Profile UI"


app.add_page(index.page, route=routes.INDEX, title="Profile UI", on_load=page_load_events(index.IndexState.on_load))
app.add_page(
    login.page, route=routes.LOGIN, title=_title("Sign in"), on_load=page_load_events(login.LoginState.on_load)
)
app.add_page(
    profiles.list_page.page,
    route=routes.PROFILES,
    title=_title(profiles.TITLE),
    on_load=page_load_events(profiles.ProfilesListState.on_load),
)
app.add_page(
    profiles.create_page.page,
    route=routes.PROFILE_NEW,
    title=_title(profiles.create_page.TITLE),
    on_load=page_load_events(profiles.ProfileCreateState.on_load),
)
app.add_page(
    profiles.detail_page.page,
    route=routes.PROFILE_DETAIL,
    title=_title(profiles.detail_page.TITLE),
    on_load=page_load_events([profiles.ProfileDetailState.on_load, profiles.UnmergeState.on_load]),
)
app.add_page(
    imports.page,
    route=routes.IMPORTS,
    title=_title(imports.TITLE),
    on_load=page_load_events(imports.ImportsState.on_load),
)
app.add_page(
    import_new.page,
    route=routes.IMPORT_NEW,
    title=_title(import_new.TITLE),
    on_load=page_load_events(import_new.ImportUploadState.on_load),
)
app.add_page(
    imports.detail.page,
    route=routes.IMPORT_DETAIL,
    title=_title(imports.detail.TITLE),
    on_load=page_load_events(imports.ImportDetailState.on_load),
)
app.add_page(
    imports.review.page,
    route=routes.IMPORT_REVIEW,
    title=_title(imports.review.TITLE),
    on_load=page_load_events(imports.review.MembershipReviewState.on_load),
)
app.add_page(
    segments.page,
    route=routes.SEGMENTS,
    title=_title(segments.TITLE),
    on_load=page_load_events(segments.SegmentsState.on_load),
)
app.add_page(tags.page, route=routes.TAGS, title=_title(tags.TITLE), on_load=page_load_events(tags.TagsState.on_load))
app.add_page(
    exports.page,
    route=routes.EXPORTS,
    title=_title(exports.TITLE),
    on_load=page_load_events(exports.ExportsState.on_load),
)
app.add_page(
    trash.page, route=routes.TRASH, title=_title(trash.TITLE), on_load=page_load_events(trash.TrashState.on_load)
)
app.add_page(
    duplicates.page,
    route=routes.DUPLICATES,
    title=_title(duplicates.TITLE),
    on_load=page_load_events(duplicates.DuplicatesState.on_load),
)
app.add_page(
    audit.page, route=routes.AUDIT, title=_title(audit.TITLE), on_load=page_load_events(audit.AuditState.on_load)
)
app.add_page(
    settings.page,
    route=routes.SETTINGS,
    title=_title(settings.TITLE),
    on_load=page_load_events(settings.SettingsState.on_load),
)
