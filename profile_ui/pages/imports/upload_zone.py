"""The wizard's file chooser: ONE labelled button (the dropzone's own file input is hidden
from assistive technology and the zone itself takes no focus), files checked in the
browser before anything is sent, and the upload endpoint's refusals turned into messages.

Reflex's upload helper drops an error answer of /_upload silently (it logs to the console),
so the Upload button first installs WATCH_UPLOADS_JS: it notes the files of each /_upload
request and, when the answer is not a success, hands {status, detail, files} to the state
through a hidden button (`ANSWER_BUTTON_ID`). Messages: upload_feedback.py.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from ...services.uploads import ALLOWED_SUFFIXES, MAX_FILES_PER_UPLOAD, UPLOAD_PATH
from ...settings import get_settings
from .upload_feedback import UPLOAD_ID

ANSWER_BUTTON_ID = "import-upload-answer"
_ANSWER_GLOBAL = "window.__profileUiUploadAnswer"

WATCH_UPLOADS_JS = f"""(() => {{
  const proto = XMLHttpRequest.prototype;
  if (proto.__profileUiUploadWatch) return;
  proto.__profileUiUploadWatch = true;
  const open = proto.open, send = proto.send;
  proto.open = function (method, url, ...rest) {{
    this.__profileUiUrl = String(url);
    return open.call(this, method, url, ...rest);
  }};
  proto.send = function (body) {{
    if ((this.__profileUiUrl || "").includes("{UPLOAD_PATH}") && body instanceof FormData) {{
      const files = body.getAll("files").filter((f) => f instanceof File)
        .map((f) => ({{name: f.name.split("/").pop(), size: f.size}}));
      this.addEventListener("loadend", () => {{
        if (this.status >= 200 && this.status < 300) return;
        let detail = "";
        try {{ detail = JSON.parse(this.responseText).detail || ""; }} catch (e) {{}}
        {_ANSWER_GLOBAL} = {{status: this.status, detail: detail, files: files}};
        document.getElementById("{ANSWER_BUTTON_ID}")?.click();
      }});
    }}
    return send.call(this, body);
  }};
}})()"""

# what the browser offers in its file dialog (the server checks the content anyway)
_MIME_TYPES = {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".txt": "text/plain",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xls": "application/vnd.ms-excel",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".xlsb": "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
}


def _accept() -> dict[str, list[str]]:
    accept: dict[str, list[str]] = {}
    for suffix in ALLOWED_SUFFIXES:
        accept.setdefault(_MIME_TYPES.get(suffix, "application/octet-stream"), []).append(suffix)
    return accept


def _refused_files(rejected: rx.Var) -> rx.Var:
    """react-dropzone's refused files as plain {name, size, codes} (a File does not serialize)."""
    return rx.Var(
        f"{rejected}.map((r) => ({{name: r.file.name, size: r.file.size, codes: r.errors.map((e) => e.code)}}))"
    )


def upload_zone(state: Any) -> rx.Component:
    """The chooser, the chosen files, the Upload button and the hidden answer button."""
    zone = rx.upload(
        rx.vstack(
            rx.button("Choose files", type="button", variant="soft"),
            rx.text("or drag them here", color_scheme="gray", size="2"),
            align="center",
        ),
        id=UPLOAD_ID,
        multiple=True,
        accept=_accept(),
        no_keyboard=True,
        max_size=get_settings().upload_max_bytes,
        max_files=MAX_FILES_PER_UPLOAD,
        on_drop_rejected=lambda rejected: state.refuse_chosen(_refused_files(rejected)),
        border=f"2px dashed {rx.color('gray', 6)}",
        border_radius="12px",
        padding="2em",
        width="100%",
    )
    # the dropzone's <input type=file> would be a second "Choose File" control
    file_input = zone.children[0].children[0]
    file_input.custom_attrs["aria-hidden"] = "true"
    return rx.fragment(
        zone,
        rx.el.ul(
            rx.foreach(rx.selected_files(UPLOAD_ID), lambda name: rx.el.li(rx.text(name))), aria_label="Chosen files"
        ),
        rx.button(
            "Upload",
            on_click=[rx.call_script(WATCH_UPLOADS_JS), state.handle_upload(rx.upload_files(upload_id=UPLOAD_ID))],
        ),
        rx.el.button(
            id=ANSWER_BUTTON_ID,
            type="button",
            aria_hidden="true",
            tab_index=-1,
            style={"display": "none"},
            on_click=rx.call_script(_ANSWER_GLOBAL, callback=state.upload_answered),
        ),
    )
