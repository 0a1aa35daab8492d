//! The x86-64 instruction-set level this build was compiled for, checked against the CPU it
//! runs on (see README, "target level"): a build for a level the CPU lacks would die of an
//! illegal instruction somewhere on the fast path; `Eal::init` refuses it first, naming
//! the missing features and the fix.

/// Features the build may have been compiled with (`-C target-cpu=...`), in level order.
#[cfg(target_arch = "x86_64")]
fn compiled_and_present() -> Vec<(&'static str, bool, bool)> {
    macro_rules! feats {
        ($($f:tt),*) => {
            vec![$(($f, cfg!(target_feature = $f), std::arch::is_x86_feature_detected!($f))),*]
        };
    }
    feats!(
        "sse3",
        "ssse3",
        "sse4.1",
        "sse4.2",
        "popcnt",
        "cmpxchg16b",
        "avx",
        "avx2",
        "bmi1",
        "bmi2",
        "fma",
        "lzcnt",
        "movbe",
        "f16c",
        "avx512f",
        "avx512bw",
        "avx512cd",
        "avx512dq",
        "avx512vl"
    )
}

/// The features this build was compiled to use that the CPU lacks (empty when it runs here).
pub fn missing_features() -> Vec<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        compiled_and_present().into_iter().filter(|&(_, built, present)| built && !present).map(|(f, ..)| f).collect()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}

/// Ok when the CPU has every feature this build was compiled to use; else the error
/// [`crate::error::EalError::CpuLacks`], naming them and how to rebuild.
pub fn check() -> Result<(), crate::error::EalError> {
    refuse(&missing_features())
}

fn refuse(missing: &[&str]) -> Result<(), crate::error::EalError> {
    if missing.is_empty() {
        Ok(())
    } else {
        Err(crate::error::EalError::CpuLacks { missing: missing.join(", ") })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cpu_running_the_tests_has_what_the_build_uses() {
        // The tests run on the machine that built them, for its configured level: if this
        // fails, the level in .cargo/config.toml is above this CPU and every binary would
        // be refused by `Eal::init`.
        assert_eq!(super::missing_features(), Vec::<&str>::new());
        assert!(super::check().is_ok());
    }

    #[test]
    fn a_missing_feature_is_refused_naming_it_and_the_rebuild() {
        let e = super::refuse(&["avx2", "bmi2"]).expect_err("refused").to_string();
        assert!(e.contains("avx2, bmi2"), "{e}");
        assert!(e.contains("target-cpu=x86-64"), "{e}");
    }
}
