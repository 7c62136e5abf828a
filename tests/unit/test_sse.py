from __future__ import annotations

from shared.mcp.sse import EventParser, encode_event


def test_encoded_event_parses_back_to_the_same_data() -> None:
    parser = EventParser()
    events = parser.feed(encode_event(b'{"a":1}\n{"b":2}', event_id="7"))
    assert [(e.event, e.data, e.id) for e in events] == [("message", '{"a":1}\n{"b":2}', "7")]


def test_events_split_across_chunks_and_crlf_lines_are_reassembled() -> None:
    parser = EventParser()
    raw = b"event: message\r\ndata: hello\r\n\r\n: comment\r\ndata: second\r\n\r\n"
    seen = []
    for index in range(len(raw)):
        seen.extend(parser.feed(raw[index : index + 1]))
    assert [e.data for e in seen] == ["hello", "second"]


def test_comments_and_retry_fields_are_not_events() -> None:
    parser = EventParser()
    assert parser.feed(b": keepalive\n\nretry: 1000\n\n") == []
