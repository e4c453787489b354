"""The wizard's words for files that never reached it (refused in the browser, or answered
413/401/403 by the upload endpoint): each names the file, its size and the limit."""

from profile_ui.pages.imports.upload_feedback import answer_messages, chosen_file_messages

MB = 1024 * 1024


def test_files_refused_in_the_browser_are_named_with_size_and_limit() -> None:
    refused = [
        {"name": "big.csv", "size": int(10.8 * MB), "codes": ["file-too-large"]},
        {"name": "run.exe", "size": 10, "codes": ["file-invalid-type"]},
        {"name": "eleventh.csv", "size": 10, "codes": ["too-many-files"]},
    ]
    assert chosen_file_messages(refused, 10 * MB) == [
        "big.csv: the file is 10.8 MB; files up to 10 MB can be imported",
        "run.exe: this file type cannot be imported (use .csv, .tsv, .txt, .xlsx, .xls, .xlsb, .ods)",
        "eleventh.csv: at most 10 files can be uploaded at once; upload the rest next",
    ]


def test_server_answers_become_messages_per_file() -> None:
    files = [{"name": "a.csv", "size": 11 * MB}, {"name": "b.csv", "size": 2 * MB}]
    assert answer_messages({"status": 200, "files": files}, 10 * MB) == []
    assert answer_messages({"status": 413, "detail": "too big", "files": files}, 10 * MB) == [
        "a.csv: the file is 11 MB; files up to 10 MB can be imported",
        "b.csv: not uploaded (2 MB): the server answered 413: too big",
    ]
    assert answer_messages(
        {"status": 401, "detail": "Please sign in to upload files", "files": files[1:]}, 10 * MB
    ) == ["b.csv: not uploaded: your sign-in has ended (Please sign in to upload files); sign in and upload it again"]
    assert answer_messages(
        {"status": 403, "detail": "m@x.com is not allowed to import files", "files": files[1:]}, 10 * MB
    ) == ["b.csv: not uploaded: m@x.com is not allowed to import files"]
    assert "the connection to the server was lost" in answer_messages({"status": 0, "files": files[1:]}, 10 * MB)[0]
