//! Holds no code: `snapshots/` is a package only so that `cargo insta review` finds `.snap.new` files here.
