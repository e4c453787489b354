"""Membership sync review (/imports/[import_id]/review): invite, update, and deactivate
or delete the members of a group from a member file (issue #5).

Three sections, each with a "Review" list that pages from the server (one page of
proposals reaches the browser): Invite members (select all or some, Send invites,
confirm), Update member profiles (each with its field diff; approve all or some, Update),
Deactivate or delete members who are not in the file (an action per person or for all
from the Actions menu; a red Confirm, then a second confirmation). The work is in
services/importing/membership.py; comparing the file and every action run in
background events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import reflex as rx

from ... import routes
from ...components.dialogs import confirm_dialog, labelled_input
from ...components.pagination import pagination
from ...components.shell import shell
from ...db import session_scope
from ...services.importing import jobs as import_jobs
from ...services.importing import membership
from ...services.permissions import PROFILES_DELETE, PROFILES_IMPORT, Actor, PermissionDenied
from ...state.base import AppState, guarded, in_thread

TITLE = "Review members"
SECTION_TITLES = {
    "invite": "Invite members",
    "update": "Update member profiles",
    "missing": "Deactivate or delete members",
}
ACTION_LABELS = {"": "No action", "deactivate": "Deactivate", "remove": "Remove from group", "delete": "Delete profile"}
DONE_LABELS = {
    "invited": "Invited",
    "updated": "Updated",
    "deactivated": "Deactivated",
    "removed": "Removed from group",
    "deleted": "Deleted (in the trash)",
}


@dataclasses.dataclass
class ReviewItem:
    key: str
    name: str
    email: str
    state: str
    diff: str
    reason: str
    done: str
    selected: bool
    action: str
    link: str


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _run(actor: Actor, work: Any) -> Any:
    """One service call in its own transaction (in an event thread: `in_thread`)."""
    with session_scope() as session:
        return work(session, actor)


class MembershipReviewState(AppState):
    job_id: int = 0
    file_name: str = ""
    group_name: str = ""
    busy: str = ""
    error: str = ""
    success: str = ""
    can_delete: bool = False
    ready: bool = False

    invite_total: int = 0
    invite_pending: int = 0
    update_total: int = 0
    update_pending: int = 0
    missing_total: int = 0
    missing_pending: int = 0

    section: str = ""  # the open "Review" list
    items: list[ReviewItem] = []
    page: int = 1
    pages: int = 1
    page_size: int = 25
    # selection in the open list: `picked` keys, or all pending but `left_out`
    all_picked: bool = False
    picked: list[str] = []
    left_out: list[str] = []
    # the missing members' actions: per key, and for everyone else (Actions menu)
    choices: dict[str, str] = {}
    bulk_action: str = ""

    invite_confirm_open: bool = False
    missing_first_open: bool = False
    missing_second_open: bool = False
    delete_reason: str = ""
    reason_error: str = ""

    # ------------------------------------------------------------ loading
    def _actor(self) -> Actor:
        actor = self._require_actor()
        actor.require(PROFILES_IMPORT)
        return actor

    def _route_job_id(self) -> int:
        parts = str(self.router.url.path).rstrip("/").split("/")  # /imports/<id>/review
        raw = parts[-2] if len(parts) >= 2 else ""
        return int(raw) if raw.isdigit() else 0

    @rx.event
    @guarded
    def on_load(self) -> Any:
        actor = self._enter_page(routes.IMPORT_REVIEW)
        self.job_id, self.ready, self.error, self.success = self._route_job_id(), False, "", ""
        self.section, self.items, self.choices, self.bulk_action = "", [], {}, ""
        self._clear_selection()
        if actor is None:
            return None
        self.can_delete = actor.can(PROFILES_DELETE)
        try:
            with session_scope() as session:
                job = import_jobs.get_import(session=session, actor=actor, job_id=self.job_id)
                if job.kind != membership.KIND:
                    self.error = f"{job.file_name} is not a membership file: there is nothing to review"
                    return None
                self.file_name = job.file_name
                review = membership.get_review(session=session, actor=actor, job_id=self.job_id)
        except (import_jobs.ImportJobError, membership.MembershipError) as exc:
            self.error = str(exc)
            return None
        if review is None:
            return MembershipReviewState.prepare
        self._show(review)
        return None

    @rx.event(background=True)
    async def prepare(self) -> Any:
        """Compare the file with the group (in an event thread, no lock held)."""
        actor = await self._background_actor()
        if actor is None or not actor.can(PROFILES_IMPORT):
            return
        async with self:
            if self.busy:
                return
            self.busy = "Comparing the file with the group…"
            job_id = self.job_id
        try:
            review = await in_thread(
                _run, actor, lambda s, a: membership.prepare_review(session=s, actor=a, job_id=job_id)
            )
        except (membership.MembershipError, PermissionDenied) as exc:
            async with self:
                self.busy, self.error = "", str(exc)
            return
        async with self:
            self.busy = ""
            self._show(review)

    def _show(self, review: dict[str, Any]) -> None:
        counts = membership.review_counts(review)
        self.group_name = review.get("group", "")
        self.invite_total, self.invite_pending = counts["invite"]["total"], counts["invite"]["pending"]
        self.update_total, self.update_pending = counts["update"]["total"], counts["update"]["pending"]
        self.missing_total, self.missing_pending = counts["missing"]["total"], counts["missing"]["pending"]
        self.ready = True
        if self.section:
            self._load_page(review)

    def _reload(self, actor: Actor) -> None:
        with session_scope() as session:
            review = membership.get_review(session=session, actor=actor, job_id=self.job_id)
        if review is not None:
            self._show(review)

    def _load_page(self, review: dict[str, Any]) -> None:
        rows, total = membership.review_page(
            review, self.section, offset=(self.page - 1) * self.page_size, limit=self.page_size
        )
        self.pages = max(1, -(-total // self.page_size))
        self.items = [self._item(r) for r in rows]

    def _item(self, r: dict[str, Any]) -> ReviewItem:
        key = r["key"]
        pending = not r.get("done")
        selected = pending and ((self.all_picked and key not in self.left_out) or key in self.picked)
        diff = "; ".join(f"{label}: {before or '∅'} → {after or '∅'}" for label, before, after in r["diff"])
        return ReviewItem(
            key=key,
            name=r["name"] or r["email"] or "(no name)",
            email=r["email"] or "",
            state=r["state"] or ("new person" if r["profile_id"] is None else "not a member"),
            diff=diff,
            reason=r.get("reason", ""),
            done=DONE_LABELS.get(r.get("done", ""), ""),
            selected=selected,
            action=self.choices.get(key, self.bulk_action) if pending else "",
            link=routes.profile_url(r["profile_id"]) if r["profile_id"] else "",
        )

    def _clear_selection(self) -> None:
        self.all_picked, self.picked, self.left_out = False, [], []

    # ------------------------------------------------------------ the lists
    @rx.event
    @guarded
    def open_section(self, section: str) -> None:
        actor = self._actor()
        if section not in membership.SECTIONS:
            return
        self.section = "" if self.section == section else section
        self.page, self.success = 1, ""
        self._clear_selection()
        self.items = []
        if self.section:
            self._reload(actor)

    @rx.event
    @guarded
    def set_page(self, page: int) -> None:
        actor = self._actor()
        self.page = min(max(1, int(page)), self.pages)
        self._reload(actor)

    @rx.event
    @guarded
    def set_page_size(self, size: str) -> None:
        actor = self._actor()
        if size in ("25", "50", "100"):
            self.page_size, self.page = int(size), 1
            self._reload(actor)

    def _refresh_marks(self) -> None:
        for item in self.items:
            if not item.done:
                item.selected = (self.all_picked and item.key not in self.left_out) or item.key in self.picked
                item.action = self.choices.get(item.key, self.bulk_action)
        self.items = list(self.items)

    @rx.event
    @guarded
    def pick(self, key: str, checked: bool) -> None:
        self._actor()
        if self.all_picked:
            self.left_out = [k for k in self.left_out if k != key] + ([] if checked else [key])
        else:
            self.picked = [k for k in self.picked if k != key] + ([key] if checked else [])
        self._refresh_marks()

    @rx.event
    @guarded
    def pick_all(self, checked: bool) -> None:
        self._actor()
        self._clear_selection()
        self.all_picked = bool(checked)
        self._refresh_marks()

    @rx.event
    @guarded
    def choose(self, key: str, action: str) -> None:
        self._actor()
        if action in ACTION_LABELS and (action != "delete" or self.can_delete):
            self.choices = {**self.choices, key: action}
            self._refresh_marks()

    @rx.event
    @guarded
    def choose_for_all(self, action: str) -> None:
        self._actor()
        if action in ACTION_LABELS and (action != "delete" or self.can_delete):
            self.bulk_action, self.choices = action, {}
            self._refresh_marks()

    @rx.var
    def section_total(self) -> int:
        return {"invite": self.invite_total, "update": self.update_total, "missing": self.missing_total}.get(
            self.section, 0
        )

    @rx.var
    def picked_count(self) -> int:
        pending = {"invite": self.invite_pending, "update": self.update_pending}.get(self.section, 0)
        return max(0, pending - len(self.left_out)) if self.all_picked else len(self.picked)

    @rx.var
    def missing_summary(self) -> str:
        """What the chosen actions will do (the confirmations say it)."""
        chosen = {k: a for k, a in self.choices.items() if a}
        counts = {a: sum(1 for v in chosen.values() if v == a) for a in membership.ACTIONS}
        if self.bulk_action:
            counts[self.bulk_action] += max(0, self.missing_pending - len(self.choices))
        parts = []
        if counts["deactivate"]:
            parts.append(f"deactivate {_plural(counts['deactivate'], 'member')}")
        if counts["remove"]:
            parts.append(f"remove {_plural(counts['remove'], 'member')} from the group")
        if counts["delete"]:
            parts.append(f"delete {_plural(counts['delete'], 'profile')} (they go to the trash)")
        return ", ".join(parts)

    @rx.var
    def deleting(self) -> bool:
        return self.bulk_action == "delete" or "delete" in self.choices.values()

    # ------------------------------------------------------------ the actions
    def _selection(self) -> dict[str, Any]:
        return {"keys": None if self.all_picked else list(self.picked), "exclude": list(self.left_out)}

    async def _perform(
        self, busy: str, call: Callable[[Any, Actor, dict[str, Any]], Any], describe: Callable[[Any], str]
    ) -> AsyncIterator[Any]:
        """Run one review action in an event thread (the state lock is not held meanwhile),
        then show its success message and the lists as they are now (read in the thread too)."""
        actor = await self._background_actor()
        if actor is None:
            return
        async with self:
            if self.busy:
                return
            self.busy, self.success = busy, ""
            self.invite_confirm_open = self.missing_second_open = False
            job_id, args = (
                self.job_id,
                {
                    **self._selection(),
                    "choices": dict(self.choices),
                    "default_action": self.bulk_action,
                    "reason": self.delete_reason,
                },
            )
        try:
            result = await in_thread(_run, actor, lambda s, a: call(s, a, {"job_id": job_id, **args}))
        except (membership.MembershipError, PermissionDenied) as exc:
            async with self:
                self.busy = ""
            yield rx.toast.error(str(exc))
            return
        message = describe(result)
        try:
            review = await in_thread(_run, actor, lambda s, a: membership.get_review(session=s, actor=a, job_id=job_id))
        except (membership.MembershipError, PermissionDenied):
            review = None  # done, but the lists cannot be shown again: they stay as they were
        async with self:
            self.busy, self.success = "", message + "."
            self._clear_selection()
            self.choices, self.bulk_action = {}, ""
            if review is not None and self.job_id == job_id:
                self._show(review)
        yield rx.toast.success(message)

    @rx.event
    @guarded
    def set_invite_confirm_open(self, is_open: bool) -> None:
        self._actor()
        self.invite_confirm_open = bool(is_open) and self.picked_count > 0

    @rx.event(background=True)
    async def send_invites(self) -> Any:
        def call(session: Any, actor: Actor, a: dict[str, Any]) -> Any:
            return membership.send_invites(
                session=session, actor=actor, job_id=a["job_id"], keys=a["keys"], exclude=a["exclude"]
            )

        def describe(result: membership.InviteResult) -> str:
            text = f"Invitations sent to {_plural(result.invited, 'person', 'people')}"
            if result.without_email:
                text += (
                    f" ({_plural(result.without_email, 'person', 'people')} without an e-mail "
                    "address: invited, no e-mail sent)"
                )
            return text

        async for item in self._perform("Sending invitations…", call, describe):
            yield item

    @rx.event(background=True)
    async def apply_updates(self) -> Any:
        def call(session: Any, actor: Actor, a: dict[str, Any]) -> Any:
            return membership.apply_updates(
                session=session, actor=actor, job_id=a["job_id"], keys=a["keys"], exclude=a["exclude"]
            )

        async for item in self._perform(
            "Updating member profiles…", call, lambda n: f"{_plural(n, 'member profile')} updated"
        ):
            yield item

    # ------------------------------------------------------------ deactivate or delete
    @rx.event
    @guarded
    def open_missing_confirm(self) -> Any:
        self._actor()
        if not self.missing_summary:
            return rx.toast.error(
                "Choose an action (Deactivate, Remove from group or Delete profile) for at least one member"
            )
        self.delete_reason, self.reason_error, self.missing_first_open = "", "", True
        return None

    @rx.event
    @guarded
    def set_missing_first_open(self, is_open: bool) -> None:
        self._actor()
        self.missing_first_open = bool(is_open)

    @rx.event
    @guarded
    def first_confirmed(self, form: dict[str, Any]) -> None:
        self._actor()
        self.delete_reason = str(form.get("reason", "") or "").strip()
        if self.deleting and not self.delete_reason:
            self.reason_error = "Give a reason for deleting (it is kept in the audit log)"
            return
        self.reason_error = ""
        self.missing_first_open, self.missing_second_open = False, True

    @rx.event
    @guarded
    def set_missing_second_open(self, is_open: bool) -> None:
        self._actor()
        self.missing_second_open = bool(is_open)

    @rx.event(background=True)
    async def apply_missing(self) -> Any:
        def call(session: Any, actor: Actor, a: dict[str, Any]) -> Any:
            return membership.resolve_missing(
                session=session,
                actor=actor,
                job_id=a["job_id"],
                choices=a["choices"],
                default_action=a["default_action"],
                reason=a["reason"],
            )

        def describe(counts: dict[str, int]) -> str:
            parts = [
                text
                for action, text in (
                    ("deactivate", f"{_plural(counts['deactivate'], 'member')} deactivated"),
                    ("remove", f"{_plural(counts['remove'], 'member')} removed from the group"),
                    ("delete", f"{_plural(counts['delete'], 'profile')} deleted (in the trash)"),
                )
                if counts[action]
            ]
            text = ", ".join(parts)
            return text[:1].upper() + text[1:]

        async for item in self._perform("Applying…", call, describe):
            yield item


S = MembershipReviewState


# ------------------------------------------------------------ view
def _checkbox(item: ReviewItem) -> rx.Component:
    return rx.cond(
        item.done != "",
        rx.badge(item.done, color_scheme="green"),
        rx.checkbox(checked=item.selected, on_change=lambda c: S.pick(item.key, c), aria_label=f"Select {item.name}"),
    )


def _who(item: ReviewItem) -> rx.Component:
    return rx.vstack(
        rx.cond(item.link != "", rx.link(item.name, href=item.link), rx.text(item.name, weight="medium")),
        rx.text(item.email, size="1", color_scheme="gray"),
        spacing="0",
    )


def _action_select(item: ReviewItem) -> rx.Component:
    options = [rx.el.option(label, value=value) for value, label in ACTION_LABELS.items() if value != "delete"]
    return rx.cond(
        item.done != "",
        rx.badge(item.done, color_scheme="green"),
        rx.el.select(
            *options,
            rx.cond(S.can_delete, rx.el.option("Delete profile", value="delete")),
            value=item.action,
            on_change=lambda v: S.choose(item.key, v),
            aria_label=f"Action for {item.name}",
        ),
    )


def _row(item: ReviewItem) -> rx.Component:
    return rx.match(
        S.section,
        (
            "invite",
            rx.table.row(
                rx.table.cell(_checkbox(item)), rx.table.row_header_cell(_who(item)), rx.table.cell(item.state)
            ),
        ),
        (
            "update",
            rx.table.row(
                rx.table.cell(_checkbox(item)),
                rx.table.row_header_cell(_who(item)),
                rx.table.cell(rx.text(item.diff, size="2")),
            ),
        ),
        rx.table.row(
            rx.table.row_header_cell(_who(item)),
            rx.table.cell(item.state),
            rx.table.cell(rx.text(item.reason, size="2")),
            rx.table.cell(_action_select(item)),
        ),
    )


def _list(section: str, headers: tuple[str, ...], toolbar: rx.Component) -> rx.Component:
    return rx.cond(
        S.section == section,
        rx.vstack(
            toolbar,
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
                rx.table.body(rx.foreach(S.items, _row)),
                aria_label=SECTION_TITLES[section],
                width="100%",
            ),
            pagination(
                page=S.page,
                pages=S.pages,
                total_text=f"{S.section_total} in this list",
                page_size=S.page_size,
                on_page=S.set_page,
                on_page_size=S.set_page_size,
            ),
            spacing="3",
            width="100%",
            align="start",
        ),
    )


def _select_all(pending: rx.Var) -> rx.Component:
    return rx.el.label(
        rx.checkbox(checked=S.all_picked, on_change=S.pick_all, disabled=pending == 0),
        f"Select all {pending} pending",
        style={"display": "flex", "gap": "0.5em", "alignItems": "center"},
    )


def _section(section: str, lead: rx.Component, body: rx.Component) -> rx.Component:
    heading_id = f"review-{section}"
    return rx.el.section(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.heading(SECTION_TITLES[section], size="4", as_="h2", id=heading_id),
                    rx.spacer(),
                    rx.button(
                        rx.cond(S.section == section, "Hide", "Review"),
                        variant="soft",
                        on_click=S.open_section(section),
                    ),
                    width="100%",
                    align="center",
                ),
                lead,
                body,
                spacing="3",
                width="100%",
                align="start",
            ),
            width="100%",
        ),
        aria_labelledby=heading_id,
        style={"width": "100%"},
    )


def _picking_section(
    section: str, pending: rx.Var, button: rx.Component, lead: rx.Var | str, headers: tuple[str, ...]
) -> rx.Component:
    """A section whose list is approved by selecting people (all or some) and one button."""
    toolbar = rx.hstack(_select_all(pending), rx.spacer(), button, width="100%", align="center")
    return _section(section, rx.text(lead, size="2"), _list(section, headers, toolbar))


def _invite() -> rx.Component:
    return _picking_section(
        "invite",
        S.invite_pending,
        rx.button("Send invites", disabled=S.picked_count == 0, on_click=S.set_invite_confirm_open(True)),
        f"{S.invite_pending} of {S.invite_total} people in the file have no active membership "
        "of the group: invite them (new people get a profile).",
        ("Invite", "Person", "Now"),
    )


def _update() -> rx.Component:
    return _picking_section(
        "update",
        S.update_pending,
        rx.button("Update", disabled=S.picked_count == 0, on_click=S.apply_updates),
        f"{S.update_pending} of {S.update_total} members' data differ from the file (fields locked "
        "by hand are left alone).",
        ("Approve", "Member", "Changes"),
    )


def _missing() -> rx.Component:
    bulk = [(v, f"{label} all") for v, label in ACTION_LABELS.items() if v not in ("", "delete")]
    toolbar = rx.hstack(
        rx.menu.root(
            rx.menu.trigger(rx.button("Actions", rx.icon("chevron_down", size=14, aria_hidden="true"), variant="soft")),
            rx.menu.content(
                *[rx.menu.item(label, on_click=S.choose_for_all(value)) for value, label in bulk],
                rx.cond(
                    S.can_delete, rx.menu.item("Delete all profiles", color="red", on_click=S.choose_for_all("delete"))
                ),
                rx.menu.separator(),
                rx.menu.item("Clear all actions", on_click=S.choose_for_all("")),
            ),
        ),
        rx.spacer(),
        rx.button("Confirm", color_scheme="red", on_click=S.open_missing_confirm),
        width="100%",
        align="center",
    )
    return _section(
        "missing",
        rx.text(
            f"{S.missing_pending} of {S.missing_total} members are not in the file (or their Status says they "
            "left). Deactivated members are hidden from the group's lists; a later file with Status = active "
            "brings them back.",
            size="2",
        ),
        _list("missing", ("Member", "Membership", "Why", "Action"), toolbar),
    )


def _dialogs() -> rx.Component:
    first = rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Deactivate or delete members?"),
            rx.alert_dialog.description(f"You are about to {S.missing_summary}."),
            rx.form(
                rx.vstack(
                    rx.cond(
                        S.deleting,
                        labelled_input(
                            "Reason for deleting",
                            name="reason",
                            id="delete-reason",
                            required=True,
                            error=S.reason_error,
                            hint="Kept in the audit log with the deletion",
                        ),
                    ),
                    rx.hstack(
                        rx.alert_dialog.cancel(rx.button("Cancel", type="button", variant="soft", color_scheme="gray")),
                        rx.button("Confirm", type="submit", color_scheme="red"),
                        justify="end",
                        spacing="3",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=S.first_confirmed,
                reset_on_submit=False,
            ),
        ),
        open=S.missing_first_open,
        on_open_change=S.set_missing_first_open,
    )
    return rx.fragment(
        confirm_dialog(
            title="Send invitations?",
            message=f"Invite {S.picked_count} people to {S.group_name}: their membership "
            "becomes invited and each gets an invitation e-mail.",
            is_open=S.invite_confirm_open,
            on_open_change=S.set_invite_confirm_open,
            on_confirm=S.send_invites,
            confirm_label="Send invites",
        ),
        first,
        confirm_dialog(
            title="Are you sure?",
            message=f"This will {S.missing_summary}. It happens now for everyone listed.",
            is_open=S.missing_second_open,
            on_open_change=S.set_missing_second_open,
            on_confirm=S.apply_missing,
            confirm_label="Yes, apply",
            danger=True,
        ),
    )


def content() -> rx.Component:
    return rx.vstack(
        rx.heading(S.file_name, size="5", as_="h2"),
        rx.cond(S.group_name != "", rx.text(f"Member file for the group {S.group_name}", color_scheme="gray")),
        rx.cond(
            S.error != "", rx.callout.root(rx.callout.text(S.error), color_scheme="red", role="alert", width="100%")
        ),
        rx.cond(S.busy != "", rx.hstack(rx.spinner(size="2"), rx.text(S.busy, role="status"), align="center")),
        rx.cond(
            S.success != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("circle_check", size=16)),
                rx.callout.text(S.success),
                color_scheme="green",
                role="status",
                width="100%",
            ),
        ),
        rx.cond(S.ready, rx.vstack(_invite(), _update(), _missing(), spacing="4", width="100%")),
        rx.link("Back to the import report", href=f"{routes.IMPORTS}/{S.job_id}"),
        _dialogs(),
        spacing="4",
        width="100%",
        max_width="1100px",
        align="start",
    )


def page() -> rx.Component:
    return shell(content(), route=routes.IMPORT_REVIEW, title=TITLE)
