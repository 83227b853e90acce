//! `float_vif` against libvmaf v3.2.0's printed (`%.6f`) values on raw files holding the
//! fixture frames (see [`crate::feature::float_common::testkit`]), made with the libvmaf command
//! written above each case (the float-enabled build, `--cpumask 48`).

use super::*;
use crate::feature::float_common::testkit::{check, check_twins, Case};
use crate::feature::{find_extractor, find_provider};
use crate::picture::PixelFormat;

#[test]
fn vector_twins_match_the_scalar_kernels() {
    check_twins("float_vif", &[("debug", "true")]);
}

#[test]
fn float_vif_matches_libvmaf() {
    assert!(CASES.len() >= 10);
    for case in CASES {
        check(case);
    }
}

#[test]
fn windows_follow_the_kernel_scale() {
    assert_eq!(filter_size(0, 1.0), 17);
    assert_eq!(filter_size(3, 1.0), 3);
    assert_eq!(filter_size(0, 0.5), 9);
    assert_eq!(filter_size(2, 2.0), 11);
    let g = gaussian(17, 17.0 / 5.0);
    assert!((g.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert!(valid_kernelscale(360.0 / 97.0));
    assert!(!valid_kernelscale(1.3));
}

#[test]
fn log2_approximation_matches_its_definition() {
    assert_eq!(log2f_approx(1.0), 0.0);
    assert_eq!(log2f_approx(8.0), 3.0);
    assert_eq!(log2f_approx(0.0), f32::NEG_INFINITY);
    assert!(log2f_approx(-1.0).is_nan());
    assert!((log2f_approx(3.0) - 3f32.log2()).abs() < 1e-4);
}

#[test]
fn bad_options_and_tiny_pictures_are_refused() {
    let info = find_extractor("float_vif").unwrap();
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
        OptionValues::parse("float_vif", info.options, &pairs)
            .and_then(|o| (info.create)(&o, g, SimdLevel::Scalar))
    };
    assert!(build(&[], geometry).is_ok());
    let err = build(&[("vif_kernelscale", "1.3")], geometry)
        .err()
        .unwrap();
    assert!(err.to_string().contains("vif_kernelscale"), "{err}");
    let err = build(&[("vif_prescale_method", "cubic")], geometry)
        .err()
        .unwrap();
    assert!(err.to_string().contains("vif_prescale_method"), "{err}");
    assert!(build(&[("vif_enhn_gain_limit", "0.5")], geometry).is_err());
    assert!(build(&[("vif_kernelscale", "2.0")], geometry).is_err());
    let small = Geometry {
        width: 14,
        height: 40,
        ..geometry
    };
    assert!(build(&[], small).is_err());
    let deep = Geometry {
        bit_depth: 9,
        ..geometry
    };
    assert!(build(&[], deep).is_err());
}

#[test]
fn models_find_float_vif_by_its_feature_names() {
    assert_eq!(
        find_provider("VMAF_feature_vif_scale2_score").map(|i| i.name),
        Some("float_vif")
    );
}

const CASES: &[Case] = &[
    // vmaf -r a8_ref.yuv -d a8_dis.yuv -w 37 -h 29 -p 444 -b 8 --feature float_vif=debug=true -n --cpumask 48 -q --json
    Case {
        extractor: "float_vif",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        size: (37, 29),
        options: &[("debug", "true")],
        frames: &[
            &[
                ("vif_scale0", "0.568906"),
                ("vif_scale1", "0.960668"),
                ("vif_scale2", "0.985725"),
                ("vif_scale3", "0.993147"),
                ("vif", "0.654828"),
                ("vif_num", "8813.153564"),
                ("vif_den", "13458.736351"),
                ("vif_num_scale0", "6002.208008"),
                ("vif_den_scale0", "10550.436523"),
                ("vif_num_scale1", "2170.283203"),
                ("vif_den_scale1", "2259.140381"),
                ("vif_num_scale2", "537.662964"),
                ("vif_den_scale2", "545.449280"),
                ("vif_num_scale3", "102.999390"),
                ("vif_den_scale3", "103.710167"),
            ],
            &[
                ("vif_scale0", "0.572038"),
                ("vif_scale1", "0.949657"),
                ("vif_scale2", "0.980321"),
                ("vif_scale3", "0.989415"),
                ("vif", "0.654385"),
                ("vif_num", "8871.351532"),
                ("vif_den", "13556.784943"),
                ("vif_num_scale0", "6095.089355"),
                ("vif_den_scale0", "10655.049805"),
                ("vif_num_scale1", "2146.006104"),
                ("vif_den_scale1", "2259.768555"),
                ("vif_num_scale2", "529.855408"),
                ("vif_den_scale2", "540.491821"),
                ("vif_num_scale3", "100.400665"),
                ("vif_den_scale3", "101.474762"),
            ],
            &[
                ("vif_scale0", "0.581047"),
                ("vif_scale1", "0.939448"),
                ("vif_scale2", "0.970825"),
                ("vif_scale3", "0.997946"),
                ("vif", "0.659099"),
                ("vif_num", "9045.144325"),
                ("vif_den", "13723.506721"),
                ("vif_num_scale0", "6274.341797"),
                ("vif_den_scale0", "10798.329102"),
                ("vif_num_scale1", "2146.647461"),
                ("vif_den_scale1", "2285.009521"),
                ("vif_num_scale2", "526.133362"),
                ("vif_den_scale2", "541.944641"),
                ("vif_num_scale3", "98.021706"),
                ("vif_den_scale3", "98.223457"),
            ],
            &[
                ("vif_scale0", "0.626886"),
                ("vif_scale1", "0.931708"),
                ("vif_scale2", "0.975271"),
                ("vif_scale3", "1.012744"),
                ("vif", "0.659440"),
                ("vif_num", "8939.894623"),
                ("vif_den", "13556.800571"),
                ("vif_num_scale0", "7618.299805"),
                ("vif_den_scale0", "12152.611328"),
                ("vif_num_scale1", "1063.036621"),
                ("vif_den_scale1", "1140.954590"),
                ("vif_num_scale2", "209.015900"),
                ("vif_den_scale2", "214.315796"),
                ("vif_num_scale3", "49.542297"),
                ("vif_den_scale3", "48.918858"),
            ],
        ],
    },
    // vmaf -r b10_ref.yuv -d b10_dis.yuv -w 41 -h 35 -p 444 -b 10 --feature float_vif=vif_enhn_gain_limit=1.0:debug=true -n --cpumask 48 -q --json
    Case {
        extractor: "float_vif",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 10,
        size: (41, 35),
        options: &[("vif_enhn_gain_limit", "1.0"), ("debug", "true")],
        frames: &[
            &[
                ("vif_scale0_egl_1", "0.573843"),
                ("vif_scale1_egl_1", "0.962179"),
                ("vif_scale2_egl_1", "0.984977"),
                ("vif_scale3_egl_1", "0.992961"),
                ("vif_egl_1", "0.658951"),
                ("vif_num_egl_1", "12112.978485"),
                ("vif_den_egl_1", "18382.210861"),
                ("vif_num_scale0_egl_1", "8267.704102"),
                ("vif_den_scale0_egl_1", "14407.609375"),
                ("vif_num_scale1_egl_1", "2994.011230"),
                ("vif_den_scale1_egl_1", "3111.700195"),
                ("vif_num_scale2_egl_1", "686.427368"),
                ("vif_den_scale2_egl_1", "696.896973"),
                ("vif_num_scale3_egl_1", "164.835785"),
                ("vif_den_scale3_egl_1", "166.004318"),
            ],
            &[
                ("vif_scale0_egl_1", "0.580473"),
                ("vif_scale1_egl_1", "0.949304"),
                ("vif_scale2_egl_1", "0.980034"),
                ("vif_scale3_egl_1", "0.989915"),
                ("vif_egl_1", "0.661498"),
                ("vif_num_egl_1", "12225.934784"),
                ("vif_den_egl_1", "18482.208008"),
                ("vif_num_scale0_egl_1", "8416.000977"),
                ("vif_den_scale0_egl_1", "14498.533203"),
                ("vif_num_scale1_egl_1", "2960.789795"),
                ("vif_den_scale1_egl_1", "3118.905518"),
                ("vif_num_scale2_egl_1", "684.788391"),
                ("vif_den_scale2_egl_1", "698.739258"),
                ("vif_num_scale3_egl_1", "164.355621"),
                ("vif_den_scale3_egl_1", "166.030029"),
            ],
            &[
                ("vif_scale0_egl_1", "0.585140"),
                ("vif_scale1_egl_1", "0.935726"),
                ("vif_scale2_egl_1", "0.967514"),
                ("vif_scale3_egl_1", "0.990502"),
                ("vif_egl_1", "0.662302"),
                ("vif_num_egl_1", "12320.753098"),
                ("vif_den_egl_1", "18602.927582"),
                ("vif_num_scale0_egl_1", "8542.186523"),
                ("vif_den_scale0_egl_1", "14598.531250"),
                ("vif_num_scale1_egl_1", "2931.626953"),
                ("vif_den_scale1_egl_1", "3132.996094"),
                ("vif_num_scale2_egl_1", "681.152893"),
                ("vif_den_scale2_egl_1", "704.023804"),
                ("vif_num_scale3_egl_1", "165.786728"),
                ("vif_den_scale3_egl_1", "167.376434"),
            ],
            &[
                ("vif_scale0_egl_1", "0.623892"),
                ("vif_scale1_egl_1", "0.927602"),
                ("vif_scale2_egl_1", "0.963311"),
                ("vif_scale3_egl_1", "0.977279"),
                ("vif_egl_1", "0.657292"),
                ("vif_num_egl_1", "11964.158676"),
                ("vif_den_egl_1", "18202.186729"),
                ("vif_num_scale0_egl_1", "10135.057617"),
                ("vif_den_scale0_egl_1", "16244.891602"),
                ("vif_num_scale1_egl_1", "1487.882324"),
                ("vif_den_scale1_egl_1", "1604.008789"),
                ("vif_num_scale2_egl_1", "278.658173"),
                ("vif_den_scale2_egl_1", "289.271301"),
                ("vif_num_scale3_egl_1", "62.560562"),
                ("vif_den_scale3_egl_1", "64.015038"),
            ],
        ],
    },
    // vmaf -r a8_ref.yuv -d a8_dis.yuv -w 37 -h 29 -p 444 -b 8 --feature float_vif=vif_kernelscale=0.5 -n --cpumask 48 -q --json
    Case {
        extractor: "float_vif",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        size: (37, 29),
        options: &[("vif_kernelscale", "0.5")],
        frames: &[
            &[
                ("vif_scale0_ks_0.5", "0.511657"),
                ("vif_scale1_ks_0.5", "0.876265"),
                ("vif_scale2_ks_0.5", "0.937048"),
                ("vif_scale3_ks_0.5", "0.983654"),
            ],
            &[
                ("vif_scale0_ks_0.5", "0.518273"),
                ("vif_scale1_ks_0.5", "0.858776"),
                ("vif_scale2_ks_0.5", "0.935631"),
                ("vif_scale3_ks_0.5", "0.976211"),
            ],
            &[
                ("vif_scale0_ks_0.5", "0.528863"),
                ("vif_scale1_ks_0.5", "0.870341"),
                ("vif_scale2_ks_0.5", "0.934598"),
                ("vif_scale3_ks_0.5", "0.984832"),
            ],
            &[
                ("vif_scale0_ks_0.5", "0.629899"),
                ("vif_scale1_ks_0.5", "0.844072"),
                ("vif_scale2_ks_0.5", "0.911892"),
                ("vif_scale3_ks_0.5", "1.002815"),
            ],
        ],
    },
    // vmaf -r c8_ref.yuv -d c8_dis.yuv -w 64 -h 48 -p 420 -b 8 --feature float_vif=vif_kernelscale=2.0:vif_scale2_min_val=0.99 -n --cpumask 48 -q --json
    Case {
        extractor: "float_vif",
        intel: &[],
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (64, 48),
        options: &[("vif_kernelscale", "2.0"), ("vif_scale2_min_val", "0.99")],
        frames: &[
            &[
                ("vif_scale0_ks_2_s2miv_0.99", "0.608865"),
                ("vif_scale1_ks_2_s2miv_0.99", "0.990671"),
                ("vif_scale2_ks_2_s2miv_0.99", "0.998190"),
                ("vif_scale3_ks_2_s2miv_0.99", "1.001474"),
            ],
            &[
                ("vif_scale0_ks_2_s2miv_0.99", "0.610570"),
                ("vif_scale1_ks_2_s2miv_0.99", "0.986644"),
                ("vif_scale2_ks_2_s2miv_0.99", "0.993018"),
                ("vif_scale3_ks_2_s2miv_0.99", "0.991448"),
            ],
            &[
                ("vif_scale0_ks_2_s2miv_0.99", "0.610090"),
                ("vif_scale1_ks_2_s2miv_0.99", "0.981342"),
                ("vif_scale2_ks_2_s2miv_0.99", "0.990773"),
                ("vif_scale3_ks_2_s2miv_0.99", "0.994747"),
            ],
            &[
                ("vif_scale0_ks_2_s2miv_0.99", "0.625513"),
                ("vif_scale1_ks_2_s2miv_0.99", "0.990239"),
                ("vif_scale2_ks_2_s2miv_0.99", "1.006764"),
                ("vif_scale3_ks_2_s2miv_0.99", "1.003411"),
            ],
        ],
    },
    // vmaf -r d12_ref.yuv -d d12_dis.yuv -w 48 -h 40 -p 444 -b 12 --feature float_vif=vif_skip_scale0=true:vif_sigma_nsq=1.5:debug=true -n --cpumask 48 -q --json
    Case {
        extractor: "float_vif",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 12,
        size: (48, 40),
        options: &[
            ("vif_skip_scale0", "true"),
            ("vif_sigma_nsq", "1.5"),
            ("debug", "true"),
        ],
        frames: &[
            &[
                ("vif_scale0_snsq_1.5_ssclz", "0.000000"),
                ("vif_scale1_snsq_1.5_ssclz", "0.950736"),
                ("vif_scale2_snsq_1.5_ssclz", "0.981465"),
                ("vif_scale3_snsq_1.5_ssclz", "0.992306"),
                ("vif_snsq_1.5_ssclz", "0.958260"),
                ("vif_num_snsq_1.5_ssclz", "5755.388000"),
                ("vif_den_snsq_1.5_ssclz", "6006.079468"),
                ("vif_num_scale0_snsq_1.5_ssclz", "0.000000"),
                ("vif_den_scale0_snsq_1.5_ssclz", "-1.000000"),
                ("vif_num_scale1_snsq_1.5_ssclz", "4401.558105"),
                ("vif_den_scale1_snsq_1.5_ssclz", "4629.633301"),
                ("vif_num_scale2_snsq_1.5_ssclz", "1088.748047"),
                ("vif_den_scale2_snsq_1.5_ssclz", "1109.309082"),
                ("vif_num_scale3_snsq_1.5_ssclz", "265.081848"),
                ("vif_den_scale3_snsq_1.5_ssclz", "267.137085"),
            ],
            &[
                ("vif_scale0_snsq_1.5_ssclz", "0.000000"),
                ("vif_scale1_snsq_1.5_ssclz", "0.940378"),
                ("vif_scale2_snsq_1.5_ssclz", "0.974482"),
                ("vif_scale3_snsq_1.5_ssclz", "0.985182"),
                ("vif_snsq_1.5_ssclz", "0.948657"),
                ("vif_num_snsq_1.5_ssclz", "5705.230408"),
                ("vif_den_snsq_1.5_ssclz", "6014.006409"),
                ("vif_num_scale0_snsq_1.5_ssclz", "0.000000"),
                ("vif_den_scale0_snsq_1.5_ssclz", "-1.000000"),
                ("vif_num_scale1_snsq_1.5_ssclz", "4360.985352"),
                ("vif_den_scale1_snsq_1.5_ssclz", "4637.482422"),
                ("vif_num_scale2_snsq_1.5_ssclz", "1082.098389"),
                ("vif_den_scale2_snsq_1.5_ssclz", "1110.434448"),
                ("vif_num_scale3_snsq_1.5_ssclz", "262.146667"),
                ("vif_den_scale3_snsq_1.5_ssclz", "266.089539"),
            ],
            &[
                ("vif_scale0_snsq_1.5_ssclz", "0.000000"),
                ("vif_scale1_snsq_1.5_ssclz", "0.930738"),
                ("vif_scale2_snsq_1.5_ssclz", "0.963234"),
                ("vif_scale3_snsq_1.5_ssclz", "0.984618"),
                ("vif_snsq_1.5_ssclz", "0.939115"),
                ("vif_num_snsq_1.5_ssclz", "5652.014771"),
                ("vif_den_snsq_1.5_ssclz", "6018.445618"),
                ("vif_num_scale0_snsq_1.5_ssclz", "0.000000"),
                ("vif_den_scale0_snsq_1.5_ssclz", "-1.000000"),
                ("vif_num_scale1_snsq_1.5_ssclz", "4319.006348"),
                ("vif_den_scale1_snsq_1.5_ssclz", "4640.412109"),
                ("vif_num_scale2_snsq_1.5_ssclz", "1073.343262"),
                ("vif_den_scale2_snsq_1.5_ssclz", "1114.311890"),
                ("vif_num_scale3_snsq_1.5_ssclz", "259.665161"),
                ("vif_den_scale3_snsq_1.5_ssclz", "263.721619"),
            ],
            &[
                ("vif_scale0_snsq_1.5_ssclz", "0.000000"),
                ("vif_scale1_snsq_1.5_ssclz", "0.918223"),
                ("vif_scale2_snsq_1.5_ssclz", "0.968437"),
                ("vif_scale3_snsq_1.5_ssclz", "1.003927"),
                ("vif_snsq_1.5_ssclz", "0.929080"),
                ("vif_num_snsq_1.5_ssclz", "3045.269043"),
                ("vif_den_snsq_1.5_ssclz", "3277.725876"),
                ("vif_num_scale0_snsq_1.5_ssclz", "0.000000"),
                ("vif_den_scale0_snsq_1.5_ssclz", "-1.000000"),
                ("vif_num_scale1_snsq_1.5_ssclz", "2429.006836"),
                ("vif_den_scale1_snsq_1.5_ssclz", "2645.333740"),
                ("vif_num_scale2_snsq_1.5_ssclz", "507.908081"),
                ("vif_den_scale2_snsq_1.5_ssclz", "524.461853"),
                ("vif_num_scale3_snsq_1.5_ssclz", "108.354126"),
                ("vif_den_scale3_snsq_1.5_ssclz", "107.930283"),
            ],
        ],
    },
    // vmaf -r e16_ref.yuv -d e16_dis.yuv -w 40 -h 36 -p 444 -b 16 --feature float_vif -n --cpumask 48 -q --json
    Case {
        extractor: "float_vif",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 16,
        size: (40, 36),
        options: &[],
        frames: &[
            &[
                ("vif_scale0", "0.574393"),
                ("vif_scale1", "0.962827"),
                ("vif_scale2", "0.987242"),
                ("vif_scale3", "0.993990"),
            ],
            &[
                ("vif_scale0", "0.581024"),
                ("vif_scale1", "0.949673"),
                ("vif_scale2", "0.979765"),
                ("vif_scale3", "0.990137"),
            ],
            &[
                ("vif_scale0", "0.587146"),
                ("vif_scale1", "0.936448"),
                ("vif_scale2", "0.968347"),
                ("vif_scale3", "0.992751"),
            ],
            &[
                ("vif_scale0", "0.623434"),
                ("vif_scale1", "0.941558"),
                ("vif_scale2", "0.983514"),
                ("vif_scale3", "0.998421"),
            ],
        ],
    },
    // vmaf -r a8_ref.yuv -d a8_dis.yuv -w 37 -h 29 -p 444 -b 8 --feature float_vif=vif_prescale=1.5:vif_prescale_method=bilinear -n --cpumask 48 -q --json
    Case {
        extractor: "float_vif",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        size: (37, 29),
        options: &[("vif_prescale", "1.5"), ("vif_prescale_method", "bilinear")],
        frames: &[
            &[
                ("vif_scale0_ps_1.5_pm_bilinear", "0.634702"),
                ("vif_scale1_ps_1.5_pm_bilinear", "0.909925"),
                ("vif_scale2_ps_1.5_pm_bilinear", "0.961823"),
                ("vif_scale3_ps_1.5_pm_bilinear", "0.981406"),
            ],
            &[
                ("vif_scale0_ps_1.5_pm_bilinear", "0.628323"),
                ("vif_scale1_ps_1.5_pm_bilinear", "0.889741"),
                ("vif_scale2_ps_1.5_pm_bilinear", "0.943476"),
                ("vif_scale3_ps_1.5_pm_bilinear", "0.955989"),
            ],
            &[
                ("vif_scale0_ps_1.5_pm_bilinear", "0.632606"),
                ("vif_scale1_ps_1.5_pm_bilinear", "0.889506"),
                ("vif_scale2_ps_1.5_pm_bilinear", "0.939074"),
                ("vif_scale3_ps_1.5_pm_bilinear", "0.955658"),
            ],
            &[
                ("vif_scale0_ps_1.5_pm_bilinear", "0.685140"),
                ("vif_scale1_ps_1.5_pm_bilinear", "0.876953"),
                ("vif_scale2_ps_1.5_pm_bilinear", "0.942182"),
                ("vif_scale3_ps_1.5_pm_bilinear", "0.979244"),
            ],
        ],
    },
    // vmaf -r c8_ref.yuv -d c8_dis.yuv -w 64 -h 48 -p 420 -b 8 --feature float_vif=vif_prescale=0.5 -n --cpumask 48 -q --json
    Case {
        extractor: "float_vif",
        intel: &[],
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (64, 48),
        options: &[("vif_prescale", "0.5")],
        frames: &[
            &[
                ("vif_scale0_ps_0.5", "0.611620"),
                ("vif_scale1_ps_0.5", "0.945253"),
                ("vif_scale2_ps_0.5", "0.963821"),
                ("vif_scale3_ps_0.5", "0.965611"),
            ],
            &[
                ("vif_scale0_ps_0.5", "0.611204"),
                ("vif_scale1_ps_0.5", "0.960976"),
                ("vif_scale2_ps_0.5", "0.977779"),
                ("vif_scale3_ps_0.5", "0.975478"),
            ],
            &[
                ("vif_scale0_ps_0.5", "0.614370"),
                ("vif_scale1_ps_0.5", "0.952015"),
                ("vif_scale2_ps_0.5", "0.975001"),
                ("vif_scale3_ps_0.5", "0.991699"),
            ],
            &[
                ("vif_scale0_ps_0.5", "0.627590"),
                ("vif_scale1_ps_0.5", "0.934025"),
                ("vif_scale2_ps_0.5", "0.973845"),
                ("vif_scale3_ps_0.5", "0.912657"),
            ],
        ],
    },
    // vmaf -r b10_ref.yuv -d b10_dis.yuv -w 41 -h 35 -p 444 -b 10 --feature float_vif=vif_prescale=1.3:vif_prescale_method=bicubic -n --cpumask 48 -q --json
    Case {
        extractor: "float_vif",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 10,
        size: (41, 35),
        options: &[("vif_prescale", "1.3"), ("vif_prescale_method", "bicubic")],
        frames: &[
            &[
                ("vif_scale0_ps_1.3_pm_bicubic", "0.601092"),
                ("vif_scale1_ps_1.3_pm_bicubic", "0.932576"),
                ("vif_scale2_ps_1.3_pm_bicubic", "0.973805"),
                ("vif_scale3_ps_1.3_pm_bicubic", "0.985400"),
            ],
            &[
                ("vif_scale0_ps_1.3_pm_bicubic", "0.604149"),
                ("vif_scale1_ps_1.3_pm_bicubic", "0.918642"),
                ("vif_scale2_ps_1.3_pm_bicubic", "0.964378"),
                ("vif_scale3_ps_1.3_pm_bicubic", "0.984547"),
            ],
            &[
                ("vif_scale0_ps_1.3_pm_bicubic", "0.608504"),
                ("vif_scale1_ps_1.3_pm_bicubic", "0.912517"),
                ("vif_scale2_ps_1.3_pm_bicubic", "0.954870"),
                ("vif_scale3_ps_1.3_pm_bicubic", "0.972588"),
            ],
            &[
                ("vif_scale0_ps_1.3_pm_bicubic", "0.652570"),
                ("vif_scale1_ps_1.3_pm_bicubic", "0.900765"),
                ("vif_scale2_ps_1.3_pm_bicubic", "0.959967"),
                ("vif_scale3_ps_1.3_pm_bicubic", "0.966798"),
            ],
        ],
    },
    // vmaf -r a8_ref.yuv -d a8_dis.yuv -w 37 -h 29 -p 444 -b 8 --feature float_vif=vif_prescale=2.0:vif_prescale_method=lanczos4:vif_scale1_min_val=0.97:vif_scale3_min_val=0.999 -n --cpumask 48 -q --json
    Case {
        extractor: "float_vif",
        intel: &[],
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        size: (37, 29),
        options: &[
            ("vif_prescale", "2.0"),
            ("vif_prescale_method", "lanczos4"),
            ("vif_scale1_min_val", "0.97"),
            ("vif_scale3_min_val", "0.999"),
        ],
        frames: &[
            &[
                (
                    "vif_scale0_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.538117",
                ),
                (
                    "vif_scale1_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.970000",
                ),
                (
                    "vif_scale2_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.930641",
                ),
                (
                    "vif_scale3_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.999000",
                ),
            ],
            &[
                (
                    "vif_scale0_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.537688",
                ),
                (
                    "vif_scale1_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.970000",
                ),
                (
                    "vif_scale2_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.915915",
                ),
                (
                    "vif_scale3_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.999000",
                ),
            ],
            &[
                (
                    "vif_scale0_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.550766",
                ),
                (
                    "vif_scale1_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.970000",
                ),
                (
                    "vif_scale2_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.922726",
                ),
                (
                    "vif_scale3_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.999000",
                ),
            ],
            &[
                (
                    "vif_scale0_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.647671",
                ),
                (
                    "vif_scale1_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.970000",
                ),
                (
                    "vif_scale2_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.898353",
                ),
                (
                    "vif_scale3_ps_2_pm_lanczos4_s1miv_0.97_s3miv_0.999",
                    "0.999000",
                ),
            ],
        ],
    },
    // vmaf -r f10_ref.yuv -d f10_dis.yuv -w 52 -h 38 -p 422 -b 10 --feature float_vif=vif_kernelscale=1.5:vif_enhn_gain_limit=1.2 -n --cpumask 48 -q --json
    Case {
        extractor: "float_vif",
        intel: &[],
        format: PixelFormat::Yuv422,
        bit_depth: 10,
        size: (52, 38),
        options: &[("vif_kernelscale", "1.5"), ("vif_enhn_gain_limit", "1.2")],
        frames: &[
            &[
                ("vif_scale0_egl_1.2_ks_1.5", "0.600410"),
                ("vif_scale1_egl_1.2_ks_1.5", "0.987510"),
                ("vif_scale2_egl_1.2_ks_1.5", "0.996417"),
                ("vif_scale3_egl_1.2_ks_1.5", "0.997884"),
            ],
            &[
                ("vif_scale0_egl_1.2_ks_1.5", "0.605167"),
                ("vif_scale1_egl_1.2_ks_1.5", "0.978696"),
                ("vif_scale2_egl_1.2_ks_1.5", "0.990515"),
                ("vif_scale3_egl_1.2_ks_1.5", "0.992100"),
            ],
            &[
                ("vif_scale0_egl_1.2_ks_1.5", "0.606609"),
                ("vif_scale1_egl_1.2_ks_1.5", "0.969867"),
                ("vif_scale2_egl_1.2_ks_1.5", "0.985194"),
                ("vif_scale3_egl_1.2_ks_1.5", "0.991905"),
            ],
            &[
                ("vif_scale0_egl_1.2_ks_1.5", "0.622637"),
                ("vif_scale1_egl_1.2_ks_1.5", "0.977990"),
                ("vif_scale2_egl_1.2_ks_1.5", "0.998163"),
                ("vif_scale3_egl_1.2_ks_1.5", "1.006533"),
            ],
        ],
    },
];
