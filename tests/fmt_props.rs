//! Properties of `jit fmt` over generated configurations: random blocks and attributes with
//! varied key lengths and indentation, comments of every kind in random places, blank lines.
//! Formatting is idempotent, keeps every comment, and never changes what the file means.

use jit::lang::fmt::format;
use proptest::prelude::*;

/// A comment as written in the input.
fn comment() -> impl Strategy<Value = String> {
    let text = "[a-zA-Z0-9 ,.:=#/-]{0,16}";
    prop_oneof![
        text.prop_map(|t| format!("# {t}")),
        text.prop_map(|t| format!("//{t}")),
        text.prop_map(|t| format!("/* {t} */")),
        (text, text).prop_map(|(a, b)| format!("/* {a}\n   {b} */")),
    ]
}

/// A comment that can sit inside a line (before or after a token).
fn inline_comment() -> impl Strategy<Value = String> {
    "[a-z0-9 ]{0,10}".prop_map(|t| format!("/*{t}*/"))
}

fn spaces() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("   ".to_string()),
        Just("\t".to_string()),
        Just("        ".to_string()),
    ]
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..70000).prop_map(|n| n.to_string()),
        "[a-zA-Z0-9 ./:*-]{0,20}".prop_map(|s| format!("\"{s}\"")),
        Just("true".to_string()),
        Just("\"\\u00e9 \\\"q\\\" ${x}\"".to_string()),
        Just("\"${a}${b.c} %{if d}e%{endif}\"".to_string()),
    ]
}

/// An attribute value; arrays on one line or several, with comments between elements.
fn value() -> impl Strategy<Value = String> {
    let item = scalar();
    let single = (
        prop::collection::vec(scalar(), 0..4),
        spaces(),
        any::<bool>(),
    )
        .prop_map(|(items, sp, comma)| {
            let mut text = format!("[{sp}{}", items.join(&format!(",{sp}")));
            if comma && !items.is_empty() {
                text.push(',');
            }
            text.push_str(&sp);
            text.push(']');
            text
        });
    let multi = prop::collection::vec(
        (
            item,
            spaces(),
            prop::option::of(comment()),
            prop::option::of(comment()),
            any::<bool>(),
        ),
        1..4,
    )
    .prop_map(|elements| {
        let mut text = String::from("[\n");
        for (value, indent, above, after, blank) in elements {
            if blank {
                text.push('\n');
            }
            if let Some(above) = above {
                text.push_str(&format!("{indent}{above}\n"));
            }
            text.push_str(&format!("{indent}{value},"));
            if let Some(after) = after.filter(|c| !c.contains('\n')) {
                text.push_str(&format!(" {after}"));
            }
            text.push('\n');
        }
        text.push(']');
        text
    });
    let heredoc = "[a-z ]{0,12}".prop_map(|t| format!("<<EOT\n  {t}\n\tkept\nEOT"));
    prop_oneof![4 => scalar(), 2 => single, 1 => multi, 1 => heredoc]
}

#[derive(Debug, Clone)]
enum Item {
    Attribute {
        indent: String,
        key: String,
        before_eq: String,
        value: String,
        lead: Option<String>,
        trailing: Option<String>,
    },
    Block {
        indent: String,
        ident: String,
        labels: Vec<String>,
        open: Option<String>,
        body: Vec<Item>,
        close: Option<String>,
    },
    Comment(String, String),
    Blank,
}

fn attribute() -> impl Strategy<Value = Item> {
    (
        spaces(),
        "[a-z][a-z0-9_]{0,14}",
        spaces(),
        value(),
        prop::option::of(inline_comment()),
        prop::option::of(comment()),
    )
        .prop_map(
            |(indent, key, before_eq, value, lead, trailing)| Item::Attribute {
                indent,
                key,
                before_eq,
                value,
                lead,
                // A trailing comment ends its line, so it cannot span lines.
                trailing: trailing.filter(|c| !c.contains('\n')),
            },
        )
}

fn leaf() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => attribute(),
        1 => (spaces(), comment()).prop_map(|(i, c)| Item::Comment(i, c)),
        1 => Just(Item::Blank),
    ]
}

fn items() -> impl Strategy<Value = Vec<Item>> {
    let item = leaf().prop_recursive(3, 40, 6, |inner| {
        prop_oneof![
            3 => leaf(),
            1 => (
                spaces(),
                "[a-z]{1,8}",
                prop::collection::vec("[a-z0-9-]{1,8}", 0..3),
                prop::option::of(comment()),
                prop::collection::vec(inner, 0..6),
                prop::option::of(comment()),
            )
                .prop_map(|(indent, ident, labels, open, body, close)| Item::Block {
                    indent,
                    ident,
                    labels,
                    open: open.filter(|c| !c.contains('\n')),
                    body,
                    close: close.filter(|c| !c.contains('\n')),
                }),
        ]
    });
    prop::collection::vec(item, 0..10)
}

/// Writes the items; attribute keys get a numeric suffix so none repeats within a body.
fn render(items: &[Item], out: &mut String) {
    for (n, item) in items.iter().enumerate() {
        match item {
            Item::Attribute {
                indent,
                key,
                before_eq,
                value,
                lead,
                trailing,
            } => {
                out.push_str(indent);
                if let Some(lead) = lead {
                    out.push_str(lead);
                    out.push(' ');
                }
                out.push_str(&format!("{key}_{n}{before_eq}={before_eq}{value}"));
                if let Some(trailing) = trailing {
                    out.push_str(&format!(" {trailing}"));
                }
                out.push('\n');
            }
            Item::Block {
                indent,
                ident,
                labels,
                open,
                body,
                close,
            } => {
                out.push_str(indent);
                out.push_str(ident);
                for label in labels {
                    out.push_str(&format!(" \"{label}\""));
                }
                out.push_str(" {");
                if let Some(open) = open {
                    out.push_str(&format!(" {open}"));
                }
                out.push('\n');
                render(body, out);
                out.push_str(indent);
                out.push('}');
                if let Some(close) = close {
                    out.push_str(&format!(" {close}"));
                }
                out.push('\n');
            }
            Item::Comment(indent, text) => {
                out.push_str(&format!("{indent}{text}\n"));
            }
            Item::Blank => out.push('\n'),
        }
    }
}

fn comments_of(items: &[Item], out: &mut Vec<String>) {
    for item in items {
        match item {
            Item::Attribute {
                value,
                lead,
                trailing,
                ..
            } => {
                out.extend(lead.iter().chain(trailing).cloned());
                // Comments inside multi-line arrays.
                for line in value.lines() {
                    for marker in ["#", "//", "/*"] {
                        if let Some(at) = line.find(marker) {
                            if !line[..at].contains('"') {
                                out.push(line[at..].to_string());
                            }
                        }
                    }
                }
            }
            Item::Block {
                open, body, close, ..
            } => {
                out.extend(open.iter().chain(close).cloned());
                comments_of(body, out);
            }
            Item::Comment(_, text) => out.push(text.clone()),
            Item::Blank => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn formatting_is_idempotent_keeps_comments_and_meaning(items in items()) {
        let mut text = String::new();
        render(&items, &mut text);
        let formatted = format(&text)
            .unwrap_or_else(|err| panic!("generated text does not parse: {err:?}\n{text}"));

        prop_assert_eq!(&format(&formatted).unwrap(), &formatted, "not idempotent; input:\n{}", text);

        let mut comments = Vec::new();
        comments_of(&items, &mut comments);
        for comment in comments {
            let comment = comment.trim_end();
            // The first line of a multi-line comment moves; the rest is kept byte for byte.
            prop_assert!(
                formatted.contains(comment),
                "comment {:?} lost; input:\n{}\noutput:\n{}", comment, text, formatted
            );
        }

        let before: hcl::Body = hcl::from_str(&text).unwrap();
        let after: hcl::Body = hcl::from_str(&formatted)
            .unwrap_or_else(|err| panic!("formatted text does not parse: {err}\n{formatted}"));
        prop_assert_eq!(before, after, "meaning changed; input:\n{}\noutput:\n{}", text, formatted);
    }
}
