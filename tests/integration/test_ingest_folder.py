"""`wirewatch ingest` watching a real drop folder into the real Kafka.

Files appear as FTP/SFTP servers deliver them: written under a temporary
name then renamed, or written slowly under their final name.  Each good file
ends in done/ with all its stories on Kafka once; each bad one in failed/
with the reason beside it; the process keeps going, also across a restart.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from producers.ingest import documents
from support.ingest import Ingest, sent_stories, versions
from support.poll import wait_for
from support.servers import free_port


def stories_of(kind: str, data: bytes) -> set[tuple[str, int]]:
    return {(s.id, s.version) for s in documents.read(kind, data, "expected", lambda e: None)}


def deliver_by_rename(inbox: Path, name: str, data: bytes) -> None:
    temp = inbox / f"{name}.part"
    temp.write_bytes(data)
    os.replace(temp, inbox / name)


def test_drop_folder_files_by_rename_and_slow_writes_bad_files_and_a_restart(kafka_settings, tmp_path, corpus_dir):
    formats = corpus_dir / "formats"
    inbox = tmp_path / "inbox"
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "status_every: 1s\n"
        "sources:\n"
        "  - {name: agency, kind: folder, path: inbox, quiet: 0.8s, scan: 0.2s}\n"
    )
    topic = kafka_settings.stories_topic

    def on_topic():
        return versions(sent_stories(kafka_settings, topic))

    ingest = Ingest(kafka_settings, sources, tmp_path / "ingest-1.log")
    done, failed = inbox / "done", inbox / "failed"
    try:
        wait_for(lambda: done.is_dir(), timeout=15, what="the folder watched")
        expected: set[tuple[str, int]] = set()

        # Complete files, delivered under a temporary name and renamed.
        for path in [formats / "newsml-g2" / "dpa_tvo_pol.xml", formats / "ninjs" / "3.0_ntb_text.json",
                     formats / "ninjs" / "1.4_ninjsExMediumText1.json"]:
            deliver_by_rename(inbox, path.name, path.read_bytes())
            expected |= stories_of("newsml" if path.suffix == ".xml" else "ninjs", path.read_bytes())
        sgml = (corpus_dir / "reuters21578" / "reut2-000.sgm").read_text(encoding="latin-1")
        three = "".join(re.findall(r"<REUTERS\b.*?</REUTERS>", sgml, re.S)[:3])
        deliver_by_rename(inbox, "reuters-3.sgm", three.encode("latin-1"))
        expected |= stories_of("reuters", three.encode("latin-1"))
        deliver_by_rename(inbox, "flash.txt", "Quake hits the coast\n\nA strong quake hit the coast at dawn.\n".encode())
        expected.add(("file:flash.txt", 1))
        # A hidden upload is not touched until renamed.
        hidden = inbox / ".upload-in-progress.xml"
        hidden.write_bytes((formats / "newsml-g2" / "dpa_eil.xml").read_bytes())

        # Written slowly under its final name: pauses shorter than the quiet
        # period, and a file read half-way would not be well-formed XML.
        tt = (formats / "newsml-g2" / "TT_newsmlg2_sample.xml").read_bytes()
        slow = inbox / "TT_newsmlg2_sample.xml"
        with open(slow, "wb") as out:
            step = len(tt) // 12 + 1
            for i in range(0, len(tt), step):
                out.write(tt[i : i + step])
                out.flush()
                time.sleep(0.15)  # the slow writer, not a wait for ingest
                # Everything complete so far goes on meanwhile; the growing file is never taken.
                assert slow.exists()
        expected |= stories_of("newsml", tt)

        # Bad files: not well-formed, unknown kind, one bad item among good ones.
        deliver_by_rename(inbox, "broken.xml", b'<?xml version="1.0"?>\n<newsItem guid="x">\n<itemMeta>\n</newsItem>\n')
        deliver_by_rename(inbox, "photo.bin", b"\x89PNG\r\n\x1a\n\0\0\0")
        deliver_by_rename(inbox, "batch.json", b'[{"uri": "urn:good:1", "headline": "Good one"}, {"headline": "no uri"}]')
        expected.add(("urn:good:1", 1))

        good = ["dpa_tvo_pol.xml", "3.0_ntb_text.json", "1.4_ninjsExMediumText1.json", "reuters-3.sgm", "flash.txt", "TT_newsmlg2_sample.xml"]
        wait_for(lambda: all((done / n).exists() for n in good), timeout=20, what=f"{good} in done/")
        wait_for(lambda: all((failed / n).exists() for n in ("broken.xml", "photo.bin", "batch.json")), timeout=10, what="the bad files in failed/")
        assert "not well-formed XML" in (failed / "broken.xml.error.txt").read_text()
        assert "broken.xml:4:" in (failed / "broken.xml.error.txt").read_text()
        assert "unknown kind of file" in (failed / "photo.bin.error.txt").read_text()
        batch_reason = (failed / "batch.json.error.txt").read_text()
        assert "batch.json[1]: ninjs item has no 'uri'" in batch_reason and "1 other stories of the file were sent" in batch_reason
        wait_for(lambda: expected <= set(on_topic()), timeout=10, what="every story of the good files")
        # What the readers give reaches Kafka whole: version, pubstatus, signals, urgency, embargo, words.
        on_kafka = {(s.id, s.version): s.model_dump(exclude={"received"}) for s in sent_stories(kafka_settings, topic)}
        for path, kind in [(formats / "newsml-g2" / "dpa_tvo_pol.xml", "newsml"), (formats / "ninjs" / "3.0_ntb_text.json", "ninjs"),
                           (formats / "newsml-g2" / "TT_newsmlg2_sample.xml", "newsml")]:
            for story in documents.read(kind, path.read_bytes(), str(path), lambda e: None):
                assert on_kafka[(story.id, story.version)] == story.model_dump(exclude={"received"}), path.name
        correction = on_kafka[("urn:newsml:dpa.com:20090101:99-240924-240924082808397", 2)]
        assert correction["signals"] == ("correction",) and correction["urgency"] == 3
        assert hidden.exists(), "a hidden upload was taken"
        assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == [hidden.name]

        # The same file again, and a newer version of one story: only the new version goes out.
        g2 = (formats / "newsml-g2" / "dpa_tvo_pol.xml").read_bytes()
        deliver_by_rename(inbox, "dpa_tvo_pol.xml", g2)
        newer = re.sub(rb'(<newsItem[^>]*\sversion=)"2"', rb'\1"3"', g2, count=1)
        assert stories_of("newsml", newer) == {("urn:newsml:dpa.com:20090101:99-240924-240924082808397", 3)}
        deliver_by_rename(inbox, "dpa_tvo_pol-v3.xml", newer)
        expected |= stories_of("newsml", newer)
        wait_for(lambda: (done / "dpa_tvo_pol.1.xml").exists() and (done / "dpa_tvo_pol-v3.xml").exists(), timeout=10, what="the copies in done/")
        wait_for(lambda: expected <= set(on_topic()), timeout=10, what="version 3")
    finally:
        assert ingest.stop() == 0, ingest.output()[-3000:]

    # Delivered while ingest is stopped, and an upload finishing then.
    deliver_by_rename(inbox, "LISTING_2_NewsML-G2_Text_Document.xml", (formats / "newsml-g2" / "LISTING_2_NewsML-G2_Text_Document.xml").read_bytes())
    expected |= stories_of("newsml", (formats / "newsml-g2" / "LISTING_2_NewsML-G2_Text_Document.xml").read_bytes())
    os.replace(hidden, inbox / "dpa_eil.xml")
    expected |= stories_of("newsml", (formats / "newsml-g2" / "dpa_eil.xml").read_bytes())
    restarted = Ingest(kafka_settings, sources, tmp_path / "ingest-2.log")
    try:
        wait_for(lambda: (done / "dpa_eil.xml").exists() and (done / "LISTING_2_NewsML-G2_Text_Document.xml").exists(),
                 timeout=20, what="the files delivered while stopped")
        final = on_topic()
        assert set(final) == expected
        doubled = {k: n for k, n in final.items() if n > 1}
        assert not doubled, f"sent more than once: {doubled}"
        wait_for(lambda: restarted.counters("agency").get("new") == 2, timeout=5, what="the status file counting 2 new")
    finally:
        assert restarted.stop() == 0


def test_killed_mid_run_loses_nothing_and_makes_no_new_versions(kafka_settings, tmp_path):
    """SIGKILL while 200 files are being sent: after a restart every story is on Kafka, each at its one version.

    A story acknowledged just before the kill but not yet recorded in the
    state may be sent once more at the same version (the index refuses the
    repeat); nothing else may be doubled or missing.
    """
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    expected = set()
    files = 200
    for f in range(files):
        lines = []
        for n in range(20):
            story_id = f"kill-test:{f}:{n}"
            lines.append(f'{{"id": "{story_id}", "source": "wire", "title": "Story {f}/{n}", "body": "Text {n}."}}')
            expected.add((story_id, 1))
        deliver_by_rename(inbox, f"batch-{f:03}.jsonl", ("\n".join(lines) + "\n").encode())
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - {name: bulk, kind: folder, path: inbox, quiet: 0.1s, scan: 0.1s}\n")
    done = inbox / "done"
    first = Ingest(kafka_settings, sources, tmp_path / "ingest-1.log")
    wait_for(lambda: done.is_dir() and len(list(done.iterdir())) >= 5, timeout=30, interval=0.02, what="5 files done")
    first.kill()
    assert len(list(done.iterdir())) < files, "everything was done before the kill: the test proves nothing"
    second = Ingest(kafka_settings, sources, tmp_path / "ingest-2.log")
    try:
        wait_for(lambda: not any(p.is_file() for p in inbox.iterdir()), timeout=30, what="every file taken")
        final = versions(sent_stories(kafka_settings, kafka_settings.stories_topic))
        assert set(final) == expected
        assert sorted(p.name for p in done.iterdir()) == [f"batch-{f:03}.jsonl" for f in range(files)]
    finally:
        assert second.stop() == 0


def test_a_folder_waits_for_kafka_and_ctrl_c_does_not(kafka_settings, tmp_path):
    """With Kafka away a dropped file stays in the inbox (nothing lost), and Ctrl-C still stops at once."""
    inbox = tmp_path / "inbox"
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - {name: drop, kind: folder, path: inbox, quiet: 0.2s, scan: 0.2s}\n")
    nowhere = kafka_settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    ingest = Ingest(nowhere, sources, tmp_path / "ingest.log")
    wait_for(lambda: (inbox / "done").is_dir(), timeout=20, what="the folder watched")
    (inbox / "a.txt").write_text("Headline\n\nBody\n")
    wait_for(lambda: "is not reachable" in ingest.output(), timeout=30, what="Kafka reported unreachable")
    assert (inbox / "a.txt").exists() and not any((inbox / "done").iterdir())
    started = time.monotonic()
    assert ingest.stop() == 0
    assert time.monotonic() - started < 5, "Ctrl-C waited for a connection attempt"
    assert (inbox / "a.txt").exists()
