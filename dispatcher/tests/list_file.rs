//! Reading and writing `dispatcher.list` files and database rows.

use proptest::prelude::*;
use tandem_dispatcher::{
    DestinationRow, DestinationState, DispatcherList, Field, ListErrorKind, MAX_SET_DESTINATIONS,
};

const KAMAILIO_STYLE: &str = "\
#
# dispatcher destination sets
#
# line format
# setid(int) destination(sip uri) flags(int,opt) priority(int,opt) attributes(str,opt)

# proxies
2 sip:127.0.0.1:5080;transport=tcp 0 10 class=4;prefix=448;strip=2
2 sip:127.0.0.1:5082;px=vx 0 5 duid=abc;socket=udp:192.168.0.125:5060;pipe=p10

# gateways
1 sip:127.0.0.1:7070 0 0 duid=xyz;maxload=20
1 sip:127.0.0.1:7072 0 5
1\tsip:127.0.0.1:7074
";

#[test]
fn parses_kamailio_style_file_with_comments_tabs_and_optional_columns() {
    let list = DispatcherList::parse(KAMAILIO_STYLE).unwrap();
    assert_eq!(list.len(), 5);
    let ids: Vec<u32> = list.sets().iter().map(|s| s.id).collect();
    assert_eq!(ids, [2, 1]);
    let proxies = list.set(2).unwrap();
    assert_eq!(proxies.destinations[0].priority, 10);
    assert_eq!(proxies.destinations[0].attrs.get("prefix"), Some("448"));
    let second = &proxies.destinations[1];
    assert_eq!(second.attrs.duid(), Some("abc"));
    assert_eq!(
        second.attrs.socket().unwrap().to_string(),
        "udp:192.168.0.125:5060"
    );
    let gateways = list.set(1).unwrap();
    assert_eq!(gateways.destinations[0].attrs.maxload(), Some(20));
    assert_eq!(
        gateways.destinations[2].uri.to_string(),
        "sip:127.0.0.1:7074"
    );
    assert!(
        gateways
            .destinations
            .iter()
            .all(|d| d.state == DestinationState::Active)
    );
}

#[test]
fn written_list_parses_back_to_the_same_sets() {
    let list = DispatcherList::parse(KAMAILIO_STYLE).unwrap();
    let written = list.to_string();
    assert_eq!(DispatcherList::parse(&written).unwrap(), list);
    assert!(written.lines().all(|l| !l.starts_with('#')));
}

#[test]
fn flags_give_initial_states() {
    let list = DispatcherList::parse(
        "1 sip:a.example 0\n1 sip:b.example 1\n1 sip:c.example 2\n1 sip:d.example 4\n1 sip:e.example 8\n",
    )
    .unwrap();
    let states: Vec<_> = list
        .set(1)
        .unwrap()
        .destinations
        .iter()
        .map(|d| d.state)
        .collect();
    use DestinationState::*;
    assert_eq!(states, [Active, Inactive, Trying, Disabled, Active]);
    assert!(list.set(1).unwrap().destinations[4].is_probing());
}

#[test]
fn rejects_invalid_uri_with_its_column() {
    let e = DispatcherList::parse("# x\n1 sip:a.example\n1 sip:b.example:99999\n").unwrap_err();
    assert_eq!(e.line, 3);
    assert_eq!(e.field, Some(Field::Destination));
    assert!(matches!(e.kind, ListErrorKind::Uri(_)));
    assert!(
        e.column >= 3,
        "column {} should point into the URI",
        e.column
    );
    assert!(e.to_string().starts_with("line 3, column"));
}

#[test]
fn rejects_non_sip_destination() {
    let e = DispatcherList::parse("1 tel:+15551234567\n").unwrap_err();
    assert_eq!((e.line, e.kind.clone()), (1, ListErrorKind::NotSip));
}

#[test]
fn rejects_destination_listed_twice_in_a_set_but_allows_it_in_two_sets() {
    let e = DispatcherList::parse("1 sip:a.example\n2 sip:a.example\n1 sip:a.example 0 5\n")
        .unwrap_err();
    assert_eq!(e.line, 3);
    assert_eq!(e.kind, ListErrorKind::Duplicate { set_id: 1 });
}

#[test]
fn rejects_bad_flags_priority_and_attributes_naming_the_field() {
    let cases = [
        ("1 sip:a.example x", Field::Flags, 17),
        ("1 sip:a.example -1", Field::Flags, 17),
        ("1 sip:a.example 0 high", Field::Priority, 19),
        ("1 sip:a.example 0 0 weight=abc", Field::Attributes, 28),
        ("1 sip:a.example 0 0 maxload=-2", Field::Attributes, 29),
        ("1 sip:a.example 0 0 duid=", Field::Attributes, 26),
        ("99999999999 sip:a.example", Field::SetId, 1),
    ];
    for (line, field, column) in cases {
        let e = DispatcherList::parse(line).unwrap_err();
        assert_eq!(e.field, Some(field), "{line}");
        assert_eq!(e.column, column, "{line}");
        assert!(matches!(e.kind, ListErrorKind::Invalid { .. }), "{line}");
    }
}

#[test]
fn rejects_text_after_the_attributes() {
    let e = DispatcherList::parse("1 sip:a.example 0 0 a=b extra").unwrap_err();
    assert_eq!(e.kind, ListErrorKind::UnexpectedField);
    assert_eq!(e.column, 25);
}

#[test]
fn rejects_control_characters() {
    let e = DispatcherList::parse("1 sip:a.example\u{0}").unwrap_err();
    assert_eq!(e.column, 16);
}

#[test]
fn rejects_a_set_larger_than_the_limit() {
    let text: String = (0..=MAX_SET_DESTINATIONS)
        .map(|i| format!("1 sip:10.0.{}.{}\n", i / 250, i % 250))
        .collect();
    let e = DispatcherList::parse(&text).unwrap_err();
    assert_eq!(e.line, MAX_SET_DESTINATIONS + 1);
    assert!(matches!(e.kind, ListErrorKind::TooManyDestinations { .. }));
}

#[test]
fn rows_report_the_failing_row_number() {
    let good = DestinationRow {
        setid: 1,
        destination: "sip:a.example".into(),
        ..DestinationRow::default()
    };
    let bad = DestinationRow {
        setid: 1,
        destination: "sip:b.example".into(),
        attrs: "rweight=200".into(),
        ..DestinationRow::default()
    };
    let e = DispatcherList::from_rows([good.clone(), good.clone()]).unwrap_err();
    assert_eq!(
        (e.line, e.kind),
        (2, ListErrorKind::Duplicate { set_id: 1 })
    );
    let e = DispatcherList::from_rows([good, bad]).unwrap_err();
    assert_eq!((e.line, e.field), (2, Some(Field::Attributes)));
}

#[test]
fn empty_rows_are_missing_destinations() {
    let e = DispatcherList::from_rows([DestinationRow::default()]).unwrap_err();
    assert_eq!(e.kind, ListErrorKind::Missing);
}

fn line_strategy() -> impl Strategy<Value = String> {
    let host = "[a-z]{1,8}\\.example";
    let attrs = prop_oneof![
        Just(String::new()),
        (0u32..=100).prop_map(|w| format!(" weight={w}")),
        "[a-z]{1,5}".prop_map(|d| format!(" duid={d};maxload=3")),
    ];
    (0u32..5, host, 1000u16..9999, 0u32..16, -5i32..5, attrs).prop_map(
        |(set, host, port, flags, priority, attrs)| {
            format!("{set} sip:{host}:{port} {flags} {priority}{attrs}")
        },
    )
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = DispatcherList::parse(&text);
    }

    #[test]
    fn arbitrary_lines_never_panic(line in "[0-9]{1,3}[ \\t]+[ -~]{0,80}") {
        let _ = DispatcherList::parse(&line);
    }

    #[test]
    fn generated_lists_round_trip(lines in proptest::collection::vec(line_strategy(), 0..20)) {
        if let Ok(list) = DispatcherList::parse(&lines.join("\n")) {
            prop_assert_eq!(DispatcherList::parse(&list.to_string()).unwrap(), list);
        }
    }
}
