//! `float_adm` against libvmaf v3.2.0's printed (`%.6f`) values on raw files holding the
//! fixture frames (see [`crate::feature::float_common::testkit`]), made with the libvmaf command
//! written above each case (the float-enabled build, `--cpumask 48`): on an AMD EPYC (Zen 4),
//! and `intel:` what the same commands printed differently on an Intel Xeon (family 6 model
//! 167), whose `rcpss` estimates differ ([`crate::cpu::RcpssTable`]).

use super::*;
use crate::feature::float_common::testkit::{check, check_twins, Case};
use crate::feature::{find_extractor, find_provider};
use crate::picture::PixelFormat;

#[test]
fn vector_twins_match_the_scalar_kernels() {
    check_twins("float_adm", &[("debug", "true")]);
    check_twins(
        "float_adm",
        &[("adm_p_norm", "2.5"), ("adm_bypass_cm", "1")],
    );
}

#[test]
fn float_adm_matches_libvmaf() {
    assert!(CASES.len() >= 7);
    for case in CASES {
        check(case);
    }
}

#[test]
fn dwt_taps_mirror_like_libvmaf() {
    assert_eq!(dwt_taps(0, 10), [1, 0, 1, 2]);
    assert_eq!(dwt_taps(4, 10), [7, 8, 9, 9]);
    assert_eq!(dwt_taps(4, 9), [7, 8, 8, 7]);
}

#[test]
fn bad_options_and_tiny_pictures_are_refused() {
    let info = find_extractor("float_adm").unwrap();
    let geometry = Geometry {
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        width: 37,
        height: 29,
    };
    let build = |pairs: &[(&str, &str)], g: Geometry| {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OptionValues::parse("float_adm", info.options, &pairs)
            .and_then(|o| (info.create)(&o, g, SimdLevel::Scalar))
    };
    assert!(build(&[], geometry).is_ok());
    let err = build(&[("adm_p_norm", "0.5")], geometry).err().unwrap();
    assert!(err.to_string().contains("adm_p_norm"), "{err}");
    assert!(build(&[("adm_skip_aim_scale", "4")], geometry).is_err());
    assert!(build(&[("adm_ref_display_height", "0")], geometry).is_err());
    let small = Geometry {
        width: 16,
        ..geometry
    };
    assert!(build(&[], small).is_err());
}

#[test]
fn models_find_float_adm_by_its_feature_names() {
    assert_eq!(
        find_provider("VMAF_feature_adm2_score").map(|i| i.name),
        Some("float_adm")
    );
}

const CASES: &[Case] = &[
    // vmaf -r a8_ref.yuv -d a8_dis.yuv -w 37 -h 29 -p 444 -b 8 --feature float_adm=debug=true -n --cpumask 48 -q --json
    Case {
        extractor: "float_adm",
        intel: &[
            (1, "adm_num", "148.172953"),
            (1, "adm_num_scale1", "26.402428"),
        ],
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        size: (37, 29),
        options: &[("debug", "true")],
        frames: &[
            &[
                ("adm2", "0.990861"),
                ("aim", "0.007118"),
                ("adm3", "0.991872"),
                ("adm_scale0", "0.968757"),
                ("adm_scale1", "0.984286"),
                ("adm_scale2", "0.988049"),
                ("adm_scale3", "1.001169"),
                ("adm", "0.990861"),
                ("adm_num", "141.738853"),
                ("adm_den", "143.046206"),
                ("adm_num_scale0", "13.991358"),
                ("adm_den_scale0", "14.442583"),
                ("adm_num_scale1", "25.254938"),
                ("adm_den_scale1", "25.658142"),
                ("adm_num_scale2", "43.171043"),
                ("adm_den_scale2", "43.693222"),
                ("adm_num_scale3", "59.321514"),
                ("adm_den_scale3", "59.252258"),
            ],
            &[
                ("adm2", "0.987198"),
                ("aim", "0.008613"),
                ("adm3", "0.989293"),
                ("adm_scale0", "0.963747"),
                ("adm_scale1", "0.981416"),
                ("adm_scale2", "0.977994"),
                ("adm_scale3", "1.002368"),
                ("adm", "0.987198"),
                ("adm_num", "148.172949"),
                ("adm_den", "150.094429"),
                ("adm_num_scale0", "14.296541"),
                ("adm_den_scale0", "14.834333"),
                ("adm_num_scale1", "26.402424"),
                ("adm_den_scale1", "26.902384"),
                ("adm_num_scale2", "45.755051"),
                ("adm_den_scale2", "46.784615"),
                ("adm_num_scale3", "61.718933"),
                ("adm_den_scale3", "61.573097"),
            ],
            &[
                ("adm2", "0.978575"),
                ("aim", "0.008466"),
                ("adm3", "0.985054"),
                ("adm_scale0", "0.956709"),
                ("adm_scale1", "0.961496"),
                ("adm_scale2", "0.988678"),
                ("adm_scale3", "0.984248"),
                ("adm", "0.978575"),
                ("adm_num", "146.691122"),
                ("adm_den", "149.902865"),
                ("adm_num_scale0", "14.779440"),
                ("adm_den_scale0", "15.448203"),
                ("adm_num_scale1", "25.646355"),
                ("adm_den_scale1", "26.673389"),
                ("adm_num_scale2", "40.575256"),
                ("adm_den_scale2", "41.039894"),
                ("adm_num_scale3", "65.690071"),
                ("adm_den_scale3", "66.741379"),
            ],
            &[
                ("adm2", "0.973248"),
                ("aim", "0.000656"),
                ("adm3", "0.986296"),
                ("adm_scale0", "0.971320"),
                ("adm_scale1", "0.973664"),
                ("adm_scale2", "0.971615"),
                ("adm_scale3", "0.979266"),
                ("adm", "0.973248"),
                ("adm_num", "91.496735"),
                ("adm_den", "94.011701"),
                ("adm_num_scale0", "26.050167"),
                ("adm_den_scale0", "26.819345"),
                ("adm_num_scale1", "30.031729"),
                ("adm_den_scale1", "30.844044"),
                ("adm_num_scale2", "22.836927"),
                ("adm_den_scale2", "23.504093"),
                ("adm_num_scale3", "12.577911"),
                ("adm_den_scale3", "12.844218"),
            ],
        ],
    },
    // vmaf -r b10_ref.yuv -d b10_dis.yuv -w 41 -h 35 -p 444 -b 10 --feature float_adm=adm_enhn_gain_limit=1.0:debug=true -n --cpumask 48 -q --json
    Case {
        extractor: "float_adm",
        intel: &[
            (0, "adm_num_egl_1", "165.705502"),
            (0, "adm_num_scale2_egl_1", "56.385731"),
            (1, "adm_num_egl_1", "189.220055"),
            (1, "adm_num_scale3_egl_1", "82.205826"),
            (3, "adm_scale1_egl_1", "0.966276"),
            (3, "adm_num_egl_1", "109.303854"),
            (3, "adm_num_scale1_egl_1", "33.381027"),
        ],
        format: PixelFormat::Yuv444,
        bit_depth: 10,
        size: (41, 35),
        options: &[("adm_enhn_gain_limit", "1.0"), ("debug", "true")],
        frames: &[
            &[
                ("adm2_egl_1", "0.978587"),
                ("aim_egl_1", "0.006793"),
                ("adm3_egl_1", "0.985897"),
                ("adm_scale0_egl_1", "0.958314"),
                ("adm_scale1_egl_1", "0.967224"),
                ("adm_scale2_egl_1", "0.977643"),
                ("adm_scale3_egl_1", "0.989473"),
                ("adm", "0.978587"),
                ("adm_num_egl_1", "165.705498"),
                ("adm_den_egl_1", "169.331379"),
                ("adm_num_scale0_egl_1", "16.092464"),
                ("adm_den_scale0_egl_1", "16.792473"),
                ("adm_num_scale1_egl_1", "27.724415"),
                ("adm_den_scale1_egl_1", "28.663914"),
                ("adm_num_scale2_egl_1", "56.385727"),
                ("adm_den_scale2_egl_1", "57.675194"),
                ("adm_num_scale3_egl_1", "65.502892"),
                ("adm_den_scale3_egl_1", "66.199799"),
            ],
            &[
                ("adm2_egl_1", "0.982117"),
                ("aim_egl_1", "0.007166"),
                ("adm3_egl_1", "0.987476"),
                ("adm_scale0_egl_1", "0.962007"),
                ("adm_scale1_egl_1", "0.968779"),
                ("adm_scale2_egl_1", "0.981689"),
                ("adm_scale3_egl_1", "0.990959"),
                ("adm", "0.982117"),
                ("adm_num_egl_1", "189.220047"),
                ("adm_den_egl_1", "192.665394"),
                ("adm_num_scale0_egl_1", "16.406860"),
                ("adm_den_scale0_egl_1", "17.054825"),
                ("adm_num_scale1_egl_1", "26.326088"),
                ("adm_den_scale1_egl_1", "27.174496"),
                ("adm_num_scale2_egl_1", "64.281281"),
                ("adm_den_scale2_egl_1", "65.480286"),
                ("adm_num_scale3_egl_1", "82.205818"),
                ("adm_den_scale3_egl_1", "82.955788"),
            ],
            &[
                ("adm2_egl_1", "0.976705"),
                ("aim_egl_1", "0.006444"),
                ("adm3_egl_1", "0.985131"),
                ("adm_scale0_egl_1", "0.955328"),
                ("adm_scale1_egl_1", "0.965705"),
                ("adm_scale2_egl_1", "0.972565"),
                ("adm_scale3_egl_1", "0.986362"),
                ("adm", "0.976705"),
                ("adm_num_egl_1", "190.694920"),
                ("adm_den_egl_1", "195.243042"),
                ("adm_num_scale0_egl_1", "16.694954"),
                ("adm_den_scale0_egl_1", "17.475622"),
                ("adm_num_scale1_egl_1", "28.710396"),
                ("adm_den_scale1_egl_1", "29.729990"),
                ("adm_num_scale2_egl_1", "51.379902"),
                ("adm_den_scale2_egl_1", "52.829269"),
                ("adm_num_scale3_egl_1", "93.909668"),
                ("adm_den_scale3_egl_1", "95.208160"),
            ],
            &[
                ("adm2_egl_1", "0.963794"),
                ("aim_egl_1", "0.000669"),
                ("adm3_egl_1", "0.981562"),
                ("adm_scale0_egl_1", "0.965762"),
                ("adm_scale1_egl_1", "0.966275"),
                ("adm_scale2_egl_1", "0.958093"),
                ("adm_scale3_egl_1", "0.965599"),
                ("adm", "0.963794"),
                ("adm_num_egl_1", "109.303850"),
                ("adm_den_egl_1", "113.409956"),
                ("adm_num_scale0_egl_1", "28.639387"),
                ("adm_den_scale0_egl_1", "29.654690"),
                ("adm_num_scale1_egl_1", "33.381023"),
                ("adm_den_scale1_egl_1", "34.546074"),
                ("adm_num_scale2_egl_1", "29.731413"),
                ("adm_den_scale2_egl_1", "31.031851"),
                ("adm_num_scale3_egl_1", "17.552027"),
                ("adm_den_scale3_egl_1", "18.177341"),
            ],
        ],
    },
    // vmaf -r c8_ref.yuv -d c8_dis.yuv -w 64 -h 48 -p 420 -b 8 --feature float_adm=adm_csf_mode=1:adm_p_norm=2.5 -n --cpumask 48 -q --json
    Case {
        extractor: "float_adm",
        intel: &[],
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (64, 48),
        options: &[("adm_csf_mode", "1"), ("adm_p_norm", "2.5")],
        frames: &[
            &[
                ("adm2_csf_1_apn_2.5", "0.994706"),
                ("aim_csf_1_apn_2.5", "0.002241"),
                ("adm3_csf_1_apn_2.5", "0.996232"),
                ("adm_scale0_csf_1_apn_2.5", "0.934420"),
                ("adm_scale1_csf_1_apn_2.5", "0.964441"),
                ("adm_scale2_csf_1_apn_2.5", "0.984559"),
                ("adm_scale3_csf_1_apn_2.5", "1.004696"),
            ],
            &[
                ("adm2_csf_1_apn_2.5", "0.994113"),
                ("aim_csf_1_apn_2.5", "0.002185"),
                ("adm3_csf_1_apn_2.5", "0.995964"),
                ("adm_scale0_csf_1_apn_2.5", "0.938254"),
                ("adm_scale1_csf_1_apn_2.5", "0.963805"),
                ("adm_scale2_csf_1_apn_2.5", "0.988129"),
                ("adm_scale3_csf_1_apn_2.5", "1.000672"),
            ],
            &[
                ("adm2_csf_1_apn_2.5", "0.983972"),
                ("aim_csf_1_apn_2.5", "0.001656"),
                ("adm3_csf_1_apn_2.5", "0.991158"),
                ("adm_scale0_csf_1_apn_2.5", "0.929938"),
                ("adm_scale1_csf_1_apn_2.5", "0.952912"),
                ("adm_scale2_csf_1_apn_2.5", "0.989044"),
                ("adm_scale3_csf_1_apn_2.5", "0.985999"),
            ],
            &[
                ("adm2_csf_1_apn_2.5", "0.979260"),
                ("aim_csf_1_apn_2.5", "0.000157"),
                ("adm3_csf_1_apn_2.5", "0.989551"),
                ("adm_scale0_csf_1_apn_2.5", "0.961831"),
                ("adm_scale1_csf_1_apn_2.5", "0.961881"),
                ("adm_scale2_csf_1_apn_2.5", "0.956790"),
                ("adm_scale3_csf_1_apn_2.5", "1.007994"),
            ],
        ],
    },
    // vmaf -r d12_ref.yuv -d d12_dis.yuv -w 48 -h 40 -p 444 -b 12 --feature float_adm=adm_csf_mode=2:adm_skip_scale0=true:adm_skip_aim_scale=2:adm_adm3_apply_hm=true:debug=true -n --cpumask 48 -q --json
    Case {
        extractor: "float_adm",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 12,
        size: (48, 40),
        options: &[
            ("adm_csf_mode", "2"),
            ("adm_skip_scale0", "true"),
            ("adm_skip_aim_scale", "2"),
            ("adm_adm3_apply_hm", "true"),
            ("debug", "true"),
        ],
        frames: &[
            &[
                ("adm2_aah_csf_2_sasc_2_ssz", "0.992343"),
                ("aim_aah_csf_2_sasc_2_ssz", "0.001447"),
                ("adm3_aah_csf_2_sasc_2_ssz", "0.002890"),
                ("adm_scale0_aah_csf_2_sasc_2_ssz", "0.000000"),
                ("adm_scale1_aah_csf_2_sasc_2_ssz", "0.973024"),
                ("adm_scale2_aah_csf_2_sasc_2_ssz", "0.984180"),
                ("adm_scale3_aah_csf_2_sasc_2_ssz", "0.998320"),
                ("adm", "0.992343"),
                ("adm_num_aah_csf_2_sasc_2_ssz", "2371.295906"),
                ("adm_den_aah_csf_2_sasc_2_ssz", "2389.593895"),
                ("adm_num_scale0_aah_csf_2_sasc_2_ssz", "0.000000"),
                ("adm_den_scale0_aah_csf_2_sasc_2_ssz", "0.0000000001000000"),
                ("adm_num_scale1_aah_csf_2_sasc_2_ssz", "119.379890"),
                ("adm_den_scale1_aah_csf_2_sasc_2_ssz", "122.689598"),
                ("adm_num_scale2_aah_csf_2_sasc_2_ssz", "778.140137"),
                ("adm_den_scale2_aah_csf_2_sasc_2_ssz", "790.647827"),
                ("adm_num_scale3_aah_csf_2_sasc_2_ssz", "1473.775879"),
                ("adm_den_scale3_aah_csf_2_sasc_2_ssz", "1476.256470"),
            ],
            &[
                ("adm2_aah_csf_2_sasc_2_ssz", "0.995708"),
                ("aim_aah_csf_2_sasc_2_ssz", "0.001817"),
                ("adm3_aah_csf_2_sasc_2_ssz", "0.003628"),
                ("adm_scale0_aah_csf_2_sasc_2_ssz", "0.000000"),
                ("adm_scale1_aah_csf_2_sasc_2_ssz", "0.976344"),
                ("adm_scale2_aah_csf_2_sasc_2_ssz", "0.982466"),
                ("adm_scale3_aah_csf_2_sasc_2_ssz", "1.002950"),
                ("adm", "0.995708"),
                ("adm_num_aah_csf_2_sasc_2_ssz", "2818.901176"),
                ("adm_den_aah_csf_2_sasc_2_ssz", "2831.050980"),
                ("adm_num_scale0_aah_csf_2_sasc_2_ssz", "0.000000"),
                ("adm_den_scale0_aah_csf_2_sasc_2_ssz", "0.0000000001000000"),
                ("adm_num_scale1_aah_csf_2_sasc_2_ssz", "119.203117"),
                ("adm_den_scale1_aah_csf_2_sasc_2_ssz", "122.091263"),
                ("adm_num_scale2_aah_csf_2_sasc_2_ssz", "827.539124"),
                ("adm_den_scale2_aah_csf_2_sasc_2_ssz", "842.307983"),
                ("adm_num_scale3_aah_csf_2_sasc_2_ssz", "1872.158936"),
                ("adm_den_scale3_aah_csf_2_sasc_2_ssz", "1866.651733"),
            ],
            &[
                ("adm2_aah_csf_2_sasc_2_ssz", "0.990511"),
                ("aim_aah_csf_2_sasc_2_ssz", "0.001455"),
                ("adm3_aah_csf_2_sasc_2_ssz", "0.002906"),
                ("adm_scale0_aah_csf_2_sasc_2_ssz", "0.000000"),
                ("adm_scale1_aah_csf_2_sasc_2_ssz", "0.973626"),
                ("adm_scale2_aah_csf_2_sasc_2_ssz", "0.991120"),
                ("adm_scale3_aah_csf_2_sasc_2_ssz", "0.991340"),
                ("adm", "0.990511"),
                ("adm_num_aah_csf_2_sasc_2_ssz", "2982.518639"),
                ("adm_den_aah_csf_2_sasc_2_ssz", "3011.090393"),
                ("adm_num_scale0_aah_csf_2_sasc_2_ssz", "0.000000"),
                ("adm_den_scale0_aah_csf_2_sasc_2_ssz", "0.0000000001000000"),
                ("adm_num_scale1_aah_csf_2_sasc_2_ssz", "127.925865"),
                ("adm_den_scale1_aah_csf_2_sasc_2_ssz", "131.391174"),
                ("adm_num_scale2_aah_csf_2_sasc_2_ssz", "757.117676"),
                ("adm_den_scale2_aah_csf_2_sasc_2_ssz", "763.900879"),
                ("adm_num_scale3_aah_csf_2_sasc_2_ssz", "2097.475098"),
                ("adm_den_scale3_aah_csf_2_sasc_2_ssz", "2115.798340"),
            ],
            &[
                ("adm2_aah_csf_2_sasc_2_ssz", "0.976673"),
                ("aim_aah_csf_2_sasc_2_ssz", "0.000000"),
                ("adm3_aah_csf_2_sasc_2_ssz", "0.000000"),
                ("adm_scale0_aah_csf_2_sasc_2_ssz", "0.000000"),
                ("adm_scale1_aah_csf_2_sasc_2_ssz", "0.972095"),
                ("adm_scale2_aah_csf_2_sasc_2_ssz", "0.970082"),
                ("adm_scale3_aah_csf_2_sasc_2_ssz", "0.987105"),
                ("adm", "0.976673"),
                ("adm_num_aah_csf_2_sasc_2_ssz", "961.038208"),
                ("adm_den_aah_csf_2_sasc_2_ssz", "983.992035"),
                ("adm_num_scale0_aah_csf_2_sasc_2_ssz", "0.000000"),
                ("adm_den_scale0_aah_csf_2_sasc_2_ssz", "0.0000000001000000"),
                ("adm_num_scale1_aah_csf_2_sasc_2_ssz", "158.802979"),
                ("adm_den_scale1_aah_csf_2_sasc_2_ssz", "163.361511"),
                ("adm_num_scale2_aah_csf_2_sasc_2_ssz", "445.254395"),
                ("adm_den_scale2_aah_csf_2_sasc_2_ssz", "458.986176"),
                ("adm_num_scale3_aah_csf_2_sasc_2_ssz", "356.980835"),
                ("adm_den_scale3_aah_csf_2_sasc_2_ssz", "361.644348"),
            ],
        ],
    },
    // vmaf -r e16_ref.yuv -d e16_dis.yuv -w 40 -h 36 -p 444 -b 16 --feature float_adm=adm_norm_view_dist=5.0:adm_ref_display_height=2160:adm_noise_weight=0.5:adm_bypass_cm=1:adm_f1s1=0.5:adm_f2s3=0.2:adm_min_val=0.1:adm_dlm_weight=0.3 -n --cpumask 48 -q --json
    Case {
        extractor: "float_adm",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 16,
        size: (40, 36),
        options: &[
            ("adm_norm_view_dist", "5.0"),
            ("adm_ref_display_height", "2160"),
            ("adm_noise_weight", "0.5"),
            ("adm_bypass_cm", "1"),
            ("adm_f1s1", "0.5"),
            ("adm_f2s3", "0.2"),
            ("adm_min_val", "0.1"),
            ("adm_dlm_weight", "0.3"),
        ],
        frames: &[
            &[
                (
                    "adm2_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.998024",
                ),
                (
                    "aim_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.060015",
                ),
                (
                    "adm3_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.957396",
                ),
                (
                    "adm_scale0_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.998682",
                ),
                (
                    "adm_scale1_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.996225",
                ),
                (
                    "adm_scale2_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.994501",
                ),
                (
                    "adm_scale3_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "1.003432",
                ),
            ],
            &[
                (
                    "adm2_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.999951",
                ),
                (
                    "aim_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.059123",
                ),
                (
                    "adm3_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.958599",
                ),
                (
                    "adm_scale0_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.998471",
                ),
                (
                    "adm_scale1_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.994707",
                ),
                (
                    "adm_scale2_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.996152",
                ),
                (
                    "adm_scale3_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "1.009585",
                ),
            ],
            &[
                (
                    "adm2_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.995544",
                ),
                (
                    "aim_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.052603",
                ),
                (
                    "adm3_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.961841",
                ),
                (
                    "adm_scale0_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.997740",
                ),
                (
                    "adm_scale1_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.992851",
                ),
                (
                    "adm_scale2_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.997153",
                ),
                (
                    "adm_scale3_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "1.000466",
                ),
            ],
            &[
                (
                    "adm2_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.987696",
                ),
                (
                    "aim_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.049135",
                ),
                (
                    "adm3_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.961915",
                ),
                (
                    "adm_scale0_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.997679",
                ),
                (
                    "adm_scale1_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.986362",
                ),
                (
                    "adm_scale2_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.995714",
                ),
                (
                    "adm_scale3_bcm_1_dlmw_0.3_f1s1_0.5_f2s3_0.2_min_0.1_nw_0.5_nvd_5_rdf_2160",
                    "0.997975",
                ),
            ],
        ],
    },
    // vmaf -r f10_ref.yuv -d f10_dis.yuv -w 52 -h 38 -p 422 -b 10 --feature float_adm=adm_csf_mode=1:adm_csf_scale=2.0:adm_csf_diag_scale=0.5:adm_enhn_gain_limit=1.3 -n --cpumask 48 -q --json
    Case {
        extractor: "float_adm",
        intel: &[],
        format: PixelFormat::Yuv422,
        bit_depth: 10,
        size: (52, 38),
        options: &[
            ("adm_csf_mode", "1"),
            ("adm_csf_scale", "2.0"),
            ("adm_csf_diag_scale", "0.5"),
            ("adm_enhn_gain_limit", "1.3"),
        ],
        frames: &[
            &[
                ("adm2_scfd_0.5_csf_1_scf_2_egl_1.3", "0.995062"),
                ("aim_scfd_0.5_csf_1_scf_2_egl_1.3", "0.001778"),
                ("adm3_scfd_0.5_csf_1_scf_2_egl_1.3", "0.996642"),
                ("adm_scale0_scfd_0.5_csf_1_scf_2_egl_1.3", "0.947493"),
                ("adm_scale1_scfd_0.5_csf_1_scf_2_egl_1.3", "0.972373"),
                ("adm_scale2_scfd_0.5_csf_1_scf_2_egl_1.3", "0.983689"),
                ("adm_scale3_scfd_0.5_csf_1_scf_2_egl_1.3", "1.002217"),
            ],
            &[
                ("adm2_scfd_0.5_csf_1_scf_2_egl_1.3", "0.994695"),
                ("aim_scfd_0.5_csf_1_scf_2_egl_1.3", "0.002125"),
                ("adm3_scfd_0.5_csf_1_scf_2_egl_1.3", "0.996285"),
                ("adm_scale0_scfd_0.5_csf_1_scf_2_egl_1.3", "0.946357"),
                ("adm_scale1_scfd_0.5_csf_1_scf_2_egl_1.3", "0.971732"),
                ("adm_scale2_scfd_0.5_csf_1_scf_2_egl_1.3", "0.981755"),
                ("adm_scale3_scfd_0.5_csf_1_scf_2_egl_1.3", "1.001791"),
            ],
            &[
                ("adm2_scfd_0.5_csf_1_scf_2_egl_1.3", "0.987893"),
                ("aim_scfd_0.5_csf_1_scf_2_egl_1.3", "0.001807"),
                ("adm3_scfd_0.5_csf_1_scf_2_egl_1.3", "0.993043"),
                ("adm_scale0_scfd_0.5_csf_1_scf_2_egl_1.3", "0.932229"),
                ("adm_scale1_scfd_0.5_csf_1_scf_2_egl_1.3", "0.972611"),
                ("adm_scale2_scfd_0.5_csf_1_scf_2_egl_1.3", "0.989245"),
                ("adm_scale3_scfd_0.5_csf_1_scf_2_egl_1.3", "0.989247"),
            ],
            &[
                ("adm2_scfd_0.5_csf_1_scf_2_egl_1.3", "0.987027"),
                ("aim_scfd_0.5_csf_1_scf_2_egl_1.3", "0.000156"),
                ("adm3_scfd_0.5_csf_1_scf_2_egl_1.3", "0.993436"),
                ("adm_scale0_scfd_0.5_csf_1_scf_2_egl_1.3", "0.963906"),
                ("adm_scale1_scfd_0.5_csf_1_scf_2_egl_1.3", "0.968332"),
                ("adm_scale2_scfd_0.5_csf_1_scf_2_egl_1.3", "0.964229"),
                ("adm_scale3_scfd_0.5_csf_1_scf_2_egl_1.3", "1.007816"),
            ],
        ],
    },
    // vmaf -r a8_ref.yuv -d a8_dis.yuv -w 37 -h 29 -p 444 -b 8 --feature float_adm=adm_p_norm=1.0:adm_f1s0=0.02:adm_f2s2=1.5:adm_csf_mode=5 -n --cpumask 48 -q --json
    Case {
        extractor: "float_adm",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        size: (37, 29),
        options: &[
            ("adm_p_norm", "1.0"),
            ("adm_f1s0", "0.02"),
            ("adm_f2s2", "1.5"),
            ("adm_csf_mode", "5"),
        ],
        frames: &[
            &[
                ("adm2_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.950313"),
                ("aim_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.003048"),
                ("adm3_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.973633"),
                ("adm_scale0_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.757533"),
                ("adm_scale1_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.885727"),
                ("adm_scale2_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.970535"),
                ("adm_scale3_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "1.004603"),
            ],
            &[
                ("adm2_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.948671"),
                ("aim_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.003505"),
                ("adm3_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.972583"),
                ("adm_scale0_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.756009"),
                ("adm_scale1_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.885730"),
                ("adm_scale2_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.971464"),
                ("adm_scale3_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.995627"),
            ],
            &[
                ("adm2_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.948824"),
                ("aim_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.003199"),
                ("adm3_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.972812"),
                ("adm_scale0_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.772327"),
                ("adm_scale1_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.873596"),
                ("adm_scale2_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.968945"),
                ("adm_scale3_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.982573"),
            ],
            &[
                ("adm2_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.933557"),
                ("aim_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.001886"),
                ("adm3_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.965835"),
                ("adm_scale0_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.934718"),
                ("adm_scale1_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.915811"),
                ("adm_scale2_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.937205"),
                ("adm_scale3_csf_5_f1s0_0.02_f2s2_1.5_apn_1", "0.952027"),
            ],
        ],
    },
];
