//! `float_motion` against libvmaf v3.2.0's printed (`%.6f`) values on raw files holding the
//! fixture frames (see [`crate::feature::float_common::testkit`]), made with the libvmaf command
//! written above each case (the float-enabled build, `--cpumask 48`).

use super::*;
use crate::feature::float_common::testkit::{check, check_twins, run, Case};
use crate::feature::{find_extractor, find_provider};

#[test]
fn vector_twins_match_the_scalar_kernels() {
    check_twins("float_motion", &[("motion_add_uv", "true")]);
}

#[test]
fn float_motion_matches_libvmaf() {
    assert!(CASES.len() >= 7);
    for case in CASES {
        check(case);
    }
}

#[test]
fn motion_add_uv_needs_chroma() {
    let info = find_extractor("float_motion").unwrap();
    let pairs = vec![("motion_add_uv".to_string(), "true".to_string())];
    let options = OptionValues::parse("float_motion", info.options, &pairs).unwrap();
    let geometry = Geometry {
        format: PixelFormat::Yuv400,
        bit_depth: 8,
        width: 37,
        height: 29,
    };
    let err = (info.create)(&options, geometry, SimdLevel::Scalar)
        .err()
        .unwrap();
    assert!(err.to_string().contains("motion_add_uv"), "{err}");
}

#[test]
fn the_last_frame_gets_its_motion3_at_flush() {
    let case = Case {
        extractor: "float_motion",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        size: (37, 29),
        options: &[],
        frames: &[],
    };
    let frames = run(SimdLevel::Scalar, &case);
    assert_eq!(
        frames[3].get("motion3").map(String::as_str),
        Some("48.385204")
    );
}

#[test]
fn models_find_float_motion_by_its_feature_names() {
    assert_eq!(
        find_provider("VMAF_feature_motion2_score").map(|i| i.name),
        Some("float_motion")
    );
}

const CASES: &[Case] = &[
    // vmaf -r a8_ref.yuv -d a8_dis.yuv -w 37 -h 29 -p 444 -b 8 --feature float_motion -n --cpumask 48 -q --json
    Case {
        extractor: "float_motion",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        size: (37, 29),
        options: &[],
        frames: &[
            &[
                ("motion2", "0.000000"),
                ("motion", "0.000000"),
                ("motion3", "25.929462"),
            ],
            &[
                ("motion2", "25.929462"),
                ("motion", "25.929462"),
                ("motion3", "25.929462"),
            ],
            &[
                ("motion2", "27.397858"),
                ("motion", "27.397858"),
                ("motion3", "27.397858"),
            ],
            &[
                ("motion2", "48.385204"),
                ("motion", "48.385204"),
                ("motion3", "48.385204"),
            ],
        ],
    },
    // vmaf -r b10_ref.yuv -d b10_dis.yuv -w 41 -h 35 -p 444 -b 10 --feature float_motion=motion_add_scale1=true:motion_filter_size=3 -n --cpumask 48 -q --json
    Case {
        extractor: "float_motion",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 10,
        size: (41, 35),
        options: &[("motion_add_scale1", "true"), ("motion_filter_size", "3")],
        frames: &[
            &[
                ("motion2_mdc_mfs_3", "0.000000"),
                ("motion_mdc_mfs_3", "0.000000"),
                ("motion3_mdc_mfs_3", "57.575249"),
            ],
            &[
                ("motion2_mdc_mfs_3", "57.575249"),
                ("motion_mdc_mfs_3", "57.575249"),
                ("motion3_mdc_mfs_3", "57.575249"),
            ],
            &[
                ("motion2_mdc_mfs_3", "60.162582"),
                ("motion_mdc_mfs_3", "60.162582"),
                ("motion3_mdc_mfs_3", "60.162582"),
            ],
            &[
                ("motion2_mdc_mfs_3", "114.650024"),
                ("motion_mdc_mfs_3", "114.650024"),
                ("motion3_mdc_mfs_3", "114.650024"),
            ],
        ],
    },
    // vmaf -r c8_ref.yuv -d c8_dis.yuv -w 64 -h 48 -p 420 -b 8 --feature float_motion=motion_add_uv=true:motion_fps_weight=2.0:motion_blend_factor=0.5:motion_blend_offset=3.0:motion_max_val=5.0 -n --cpumask 48 -q --json
    Case {
        extractor: "float_motion",
        intel: &[],
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (64, 48),
        options: &[
            ("motion_add_uv", "true"),
            ("motion_fps_weight", "2.0"),
            ("motion_blend_factor", "0.5"),
            ("motion_blend_offset", "3.0"),
            ("motion_max_val", "5.0"),
        ],
        frames: &[
            &[
                ("motion2_mau_mbf_0.5_mbo_3_mfw_2_mmxv_5", "0.000000"),
                ("motion_mau_mbf_0.5_mbo_3_mfw_2_mmxv_5", "0.000000"),
                ("motion3_mau_mbf_0.5_mbo_3_mfw_2_mmxv_5", "5.000000"),
            ],
            &[
                ("motion2_mau_mbf_0.5_mbo_3_mfw_2_mmxv_5", "5.000000"),
                ("motion_mau_mbf_0.5_mbo_3_mfw_2_mmxv_5", "5.000000"),
                ("motion3_mau_mbf_0.5_mbo_3_mfw_2_mmxv_5", "5.000000"),
            ],
            &[
                ("motion2_mau_mbf_0.5_mbo_3_mfw_2_mmxv_5", "5.000000"),
                ("motion_mau_mbf_0.5_mbo_3_mfw_2_mmxv_5", "5.000000"),
                ("motion3_mau_mbf_0.5_mbo_3_mfw_2_mmxv_5", "5.000000"),
            ],
            &[
                ("motion2_mau_mbf_0.5_mbo_3_mfw_2_mmxv_5", "5.000000"),
                ("motion_mau_mbf_0.5_mbo_3_mfw_2_mmxv_5", "5.000000"),
                ("motion3_mau_mbf_0.5_mbo_3_mfw_2_mmxv_5", "5.000000"),
            ],
        ],
    },
    // vmaf -r f10_ref.yuv -d f10_dis.yuv -w 52 -h 38 -p 422 -b 10 --feature float_motion=motion_add_uv=true:motion_filter_size=1 -n --cpumask 48 -q --json
    Case {
        extractor: "float_motion",
        intel: &[],
        format: PixelFormat::Yuv422,
        bit_depth: 10,
        size: (52, 38),
        options: &[("motion_add_uv", "true"), ("motion_filter_size", "1")],
        frames: &[
            &[
                ("motion2_mau_mfs_1", "0.000000"),
                ("motion_mau_mfs_1", "0.000000"),
                ("motion3_mau_mfs_1", "59.365511"),
            ],
            &[
                ("motion2_mau_mfs_1", "59.365511"),
                ("motion_mau_mfs_1", "59.365511"),
                ("motion3_mau_mfs_1", "59.365511"),
            ],
            &[
                ("motion2_mau_mfs_1", "60.423835"),
                ("motion_mau_mfs_1", "60.423835"),
                ("motion3_mau_mfs_1", "60.423835"),
            ],
            &[
                ("motion2_mau_mfs_1", "214.098816"),
                ("motion_mau_mfs_1", "214.098816"),
                ("motion3_mau_mfs_1", "214.098816"),
            ],
        ],
    },
    // vmaf -r d12_ref.yuv -d d12_dis.yuv -w 48 -h 40 -p 444 -b 12 --feature float_motion=motion_force_zero=true -n --cpumask 48 -q --json
    Case {
        extractor: "float_motion",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 12,
        size: (48, 40),
        options: &[("motion_force_zero", "true")],
        frames: &[
            &[
                ("motion2_force_0", "0.000000"),
                ("motion3_force_0", "0.000000"),
                ("motion_force_0", "0.000000"),
            ],
            &[
                ("motion2_force_0", "0.000000"),
                ("motion3_force_0", "0.000000"),
                ("motion_force_0", "0.000000"),
            ],
            &[
                ("motion2_force_0", "0.000000"),
                ("motion3_force_0", "0.000000"),
                ("motion_force_0", "0.000000"),
            ],
            &[
                ("motion2_force_0", "0.000000"),
                ("motion3_force_0", "0.000000"),
                ("motion_force_0", "0.000000"),
            ],
        ],
    },
    // vmaf -r e16_ref.yuv -d e16_dis.yuv -w 40 -h 36 -p 444 -b 16 --feature float_motion=debug=false -n --cpumask 48 -q --json
    Case {
        extractor: "float_motion",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 16,
        size: (40, 36),
        options: &[("debug", "false")],
        frames: &[
            &[("motion2", "0.000000"), ("motion3", "27.087044")],
            &[("motion2", "27.087044"), ("motion3", "27.087044")],
            &[("motion2", "28.168924"), ("motion3", "28.168924")],
            &[("motion2", "52.204247"), ("motion3", "52.204247")],
        ],
    },
    // vmaf -r a8_ref.yuv -d a8_dis.yuv -w 37 -h 29 -p 444 -b 8 --feature float_motion=motion_add_uv=true:motion_add_scale1=true -n --cpumask 48 -q --json
    Case {
        extractor: "float_motion",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        size: (37, 29),
        options: &[("motion_add_uv", "true"), ("motion_add_scale1", "true")],
        frames: &[
            &[
                ("motion2_mdc_mau", "0.000000"),
                ("motion_mdc_mau", "0.000000"),
                ("motion3_mdc_mau", "69.781407"),
            ],
            &[
                ("motion2_mdc_mau", "69.781407"),
                ("motion_mdc_mau", "69.781407"),
                ("motion3_mdc_mau", "69.781407"),
            ],
            &[
                ("motion2_mdc_mau", "74.462147"),
                ("motion_mdc_mau", "74.462147"),
                ("motion3_mdc_mau", "74.462147"),
            ],
            &[
                ("motion2_mdc_mau", "316.224258"),
                ("motion_mdc_mau", "316.224258"),
                ("motion3_mdc_mau", "316.224258"),
            ],
        ],
    },
];
