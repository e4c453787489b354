"""/imports/new: the import wizard, a page package. `page.py` draws it; its state is one
class (`state.ImportUploadState`) made of one mixin per step on `base.WizardBase`, which
declares the vars they share:

    source.py    1-2  the import kind, files or pasted rows, the sheet; reading the files
    mapping.py   3-4  identify and map the columns, templates; review choice values
    options.py   5    policies, consent, tags, look-alikes, a segment file's identifier
    preview.py   6    the dry run, its preview and confirming (or a member file's review)

The left-out columns of the preview (`../ignored_columns_state.py`) are one more mixin on
`WizardBase`. Each step parses what the browser sent, calls services
(services/importing/dry_run.py for what the files hold and how the dry run is doing) and
sets vars; no SQL, no frames here.

Nothing is imported here: `ignored_columns_state.py` imports `base.py`, which must load
without the page (pages/import_new.py imports `page` and `state`).
"""
