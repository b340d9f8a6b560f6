//! The case desk: where vetted staff read and act on tips. The only room besides the CLI that
//! unlocks keys ([`crate::vault`]).

pub mod audit;
