//! The workflow layer: what a deploy is worked out to be ([`plan`], with [`diff`] of the
//! specs), carried out ([`deploy`]), and kept as a file between the two ([`plan_file`]).

pub mod deploy;
pub mod diff;
pub mod plan;
pub mod plan_file;
