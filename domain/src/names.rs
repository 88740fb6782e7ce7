//! The one shape of the domain's closed sets of named values (event kinds, run statuses,
//! built-in tools): each variant has one name, its stored and wire form, and the set knows
//! all its variants, so no name is spelled twice and none can be missing from a list.

/// Implements, for a fieldless enum, `ALL` (every variant, in declaration order), the method
/// that names a variant, `parse` (its inverse) and `Display` (the name), with a test that the
/// two agree; `serde` after the list adds a test that serde writes the same names.
macro_rules! named_enum {
    ($ty:ident::$name:ident { $($variant:ident => $text:literal,)+ }) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: [$ty; [$($text),+].len()] = [$($ty::$variant),+];

            /// The variant's name: how it is stored and sent.
            pub fn $name(self) -> &'static str {
                match self {
                    $($ty::$variant => $text,)+
                }
            }

            /// The variant of this name.
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|value| value.$name() == text)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.$name())
            }
        }

        #[cfg(test)]
        #[test]
        fn names_round_trip() {
            for value in $ty::ALL {
                assert_eq!($ty::parse(value.$name()), Some(value));
            }
            assert_eq!($ty::parse("no such name"), None);
        }
    };
    ($ty:ident::$name:ident { $($body:tt)* } serde) => {
        $crate::names::named_enum!($ty::$name { $($body)* });

        #[cfg(test)]
        #[test]
        fn serde_writes_the_names() {
            for value in $ty::ALL {
                let json = serde_json::to_string(&value).unwrap();
                assert_eq!(json, format!("\"{}\"", value.$name()));
            }
        }
    };
}

pub(crate) use named_enum;
