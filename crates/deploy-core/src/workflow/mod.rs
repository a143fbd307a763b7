//! The workflow layer: what a deploy is worked out to be ([`plan`], with [`diff`] of the
//! specs and [`preflight`] on the topic), carried out ([`deploy`]), verified ([`verify`]),
//! undone ([`rollback`], [`recover`]), kept as a file between plan and apply ([`plan_file`]);
//! promotion between channels ([`promote`]) and the emergency controls ([`controls`]).

pub mod controls;
pub mod deploy;
pub mod diff;
pub mod plan;
pub mod plan_file;
pub mod preflight;
pub mod promote;
pub mod recover;
pub mod rollback;
pub mod verify;
