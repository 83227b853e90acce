//! The float built-in models end to end: the float extractors a model asks for run on the
//! fixture frames (see [`crate::feature::float_common::testkit`]), and every feature value and
//! model score of every frame must print as libvmaf v3.2.0 printed it, with the libvmaf
//! command written above each case (the float-enabled build, `--cpumask 48`): on an AMD EPYC
//! (Zen 4), and `intel:` what it printed differently on an Intel Xeon (family 6 model 167),
//! whose `rcpss` estimates differ ([`crate::cpu::RcpssTable`]).

use std::collections::BTreeMap;

use super::*;
use crate::cpu::SimdLevel;
use crate::feature::find_extractor;
use crate::feature::float_common::testkit::{expected, printed, FRAMES};
use crate::feature::motion::fixture;
use crate::feature::name::alias;
use crate::feature::Geometry;
use crate::picture::PixelFormat;

struct ModelCase {
    model: &'static str,
    /// Raw file tag, format, depth and size of the fixture frames.
    fixture: (&'static str, PixelFormat, u8, (usize, usize)),
    frames: &'static [&'static [(&'static str, &'static str)]],
    /// (frame, name, value) that libvmaf printed differently on Intel (see `testkit::expected`).
    intel: &'static [(usize, &'static str, &'static str)],
}

fn run(case: &ModelCase, level: SimdLevel) -> Vec<BTreeMap<String, String>> {
    let (_, format, bit_depth, (width, height)) = case.fixture;
    let geometry = Geometry {
        format,
        bit_depth,
        width,
        height,
    };
    let model = Model::load(&parse_model(case.model).unwrap()).unwrap();
    let mut extractors: Vec<_> = model
        .feature_requests()
        .iter()
        .map(|r| {
            let info = find_extractor(r.extractor).unwrap();
            let options = OptionValues::parse(r.extractor, info.options, &r.options).unwrap();
            (info.create)(&options, geometry, level).unwrap()
        })
        .collect();
    let mut values = Vec::new();
    for (i, &(scene, t)) in FRAMES.iter().enumerate() {
        let (r, d) = fixture::pair(format, bit_depth, width, height, scene, t);
        for ex in &mut extractors {
            ex.extract(&r, &d, i as u32, &mut values).unwrap();
        }
    }
    for ex in &mut extractors {
        ex.flush(&mut values).unwrap();
    }
    let mut collector = FeatureCollector::new();
    let mut frames = vec![BTreeMap::new(); FRAMES.len()];
    for v in &values {
        collector.append_value(v).unwrap();
        frames[v.index as usize].insert(alias(&v.name).to_string(), printed(v.value));
    }
    for (i, frame) in frames.iter_mut().enumerate() {
        for (name, score) in model.predict(&collector, i as u32).unwrap() {
            frame.insert(name, printed(score));
        }
    }
    frames
}

#[test]
fn float_models_match_libvmaf() {
    for case in MODEL_CASES {
        // Every float model runs float ADM.
        let Some(want) = expected(case.model, true, case.frames, case.intel) else {
            continue;
        };
        for level in SimdLevel::ALL.into_iter().filter(|l| l.is_supported()) {
            let got = run(case, level);
            for (i, want) in want.iter().enumerate() {
                assert_eq!(&got[i], want, "{} at {level}, frame {i}", case.model);
            }
        }
    }
}

#[test]
fn float_bootstrap_model_is_built_in() {
    let model = Model::load(&parse_model("version=vmaf_float_b_v0.6.3").unwrap()).unwrap();
    assert!(model.is_collection());
    let plain = Model::load(&parse_model("version=vmaf_float_v0.6.1").unwrap()).unwrap();
    assert_eq!(model.inputs(), plain.inputs());
    assert_eq!(model.feature_requests(), plain.feature_requests());
    let extractors: Vec<&str> = plain
        .feature_requests()
        .iter()
        .map(|r| r.extractor)
        .collect();
    assert_eq!(extractors, ["float_adm", "float_motion", "float_vif"]);
}

const MODEL_CASES: &[ModelCase] = &[
    // vmaf -r c8_ref.yuv -d c8_dis.yuv -w 64 -h 48 -p 420 -b 8 -m version=vmaf_float_v0.6.1 --cpumask 48 -q --json
    ModelCase {
        model: "version=vmaf_float_v0.6.1",
        intel: &[],
        fixture: ("c8", PixelFormat::Yuv420, 8, (64, 48)),
        frames: &[
            &[
                ("adm2", "0.989806"),
                ("aim", "0.007310"),
                ("adm3", "0.991248"),
                ("adm_scale0", "0.966003"),
                ("adm_scale1", "0.975386"),
                ("adm_scale2", "0.986297"),
                ("adm_scale3", "1.004582"),
                ("motion2", "0.000000"),
                ("motion", "0.000000"),
                ("vif_scale0", "0.581611"),
                ("vif_scale1", "0.955986"),
                ("vif_scale2", "0.982378"),
                ("vif_scale3", "0.991518"),
                ("motion3", "27.319441"),
                ("vmaf", "93.806878"),
            ],
            &[
                ("adm2", "0.990493"),
                ("aim", "0.007015"),
                ("adm3", "0.991739"),
                ("adm_scale0", "0.968117"),
                ("adm_scale1", "0.976144"),
                ("adm_scale2", "0.989657"),
                ("adm_scale3", "1.000635"),
                ("motion2", "27.319441"),
                ("motion", "27.319441"),
                ("vif_scale0", "0.583848"),
                ("vif_scale1", "0.951997"),
                ("vif_scale2", "0.979157"),
                ("vif_scale3", "0.989459"),
                ("motion3", "27.319441"),
                ("vmaf", "100.000000"),
            ],
            &[
                ("adm2", "0.982510"),
                ("aim", "0.006229"),
                ("adm3", "0.988141"),
                ("adm_scale0", "0.962383"),
                ("adm_scale1", "0.969090"),
                ("adm_scale2", "0.991450"),
                ("adm_scale3", "0.985714"),
                ("motion2", "27.483376"),
                ("motion", "27.483376"),
                ("vif_scale0", "0.584747"),
                ("vif_scale1", "0.945857"),
                ("vif_scale2", "0.974304"),
                ("vif_scale3", "0.987956"),
                ("motion3", "27.483376"),
                ("vmaf", "100.000000"),
            ],
            &[
                ("adm2", "0.979328"),
                ("aim", "0.000434"),
                ("adm3", "0.989447"),
                ("adm_scale0", "0.972107"),
                ("adm_scale1", "0.973565"),
                ("adm_scale2", "0.962632"),
                ("adm_scale3", "1.014842"),
                ("motion2", "49.136395"),
                ("motion", "49.136395"),
                ("vif_scale0", "0.626858"),
                ("vif_scale1", "0.925452"),
                ("vif_scale2", "0.968918"),
                ("vif_scale3", "0.991718"),
                ("motion3", "49.136395"),
                ("vmaf", "100.000000"),
            ],
        ],
    },
    // vmaf -r f10_ref.yuv -d f10_dis.yuv -w 52 -h 38 -p 422 -b 10 -m version=vmaf_float_v0.6.1neg --cpumask 48 -q --json
    ModelCase {
        model: "version=vmaf_float_v0.6.1neg",
        intel: &[(0, "vmaf", "91.585007")],
        fixture: ("f10", PixelFormat::Yuv422, 10, (52, 38)),
        frames: &[
            &[
                ("adm2_egl_1", "0.978735"),
                ("aim_egl_1", "0.005839"),
                ("adm3_egl_1", "0.986448"),
                ("adm_scale0_egl_1", "0.961273"),
                ("adm_scale1_egl_1", "0.966030"),
                ("adm_scale2_egl_1", "0.976205"),
                ("adm_scale3_egl_1", "0.988489"),
                ("motion2", "0.000000"),
                ("motion", "0.000000"),
                ("vif_scale0_egl_1", "0.575959"),
                ("vif_scale1_egl_1", "0.958657"),
                ("vif_scale2_egl_1", "0.984315"),
                ("vif_scale3_egl_1", "0.992228"),
                ("motion3", "26.885303"),
                ("vmaf", "91.584999"),
            ],
            &[
                ("adm2_egl_1", "0.982364"),
                ("aim_egl_1", "0.006447"),
                ("adm3_egl_1", "0.987959"),
                ("adm_scale0_egl_1", "0.963150"),
                ("adm_scale1_egl_1", "0.967976"),
                ("adm_scale2_egl_1", "0.979057"),
                ("adm_scale3_egl_1", "0.991886"),
                ("motion2", "26.885303"),
                ("motion", "26.885303"),
                ("vif_scale0_egl_1", "0.581904"),
                ("vif_scale1_egl_1", "0.947492"),
                ("vif_scale2_egl_1", "0.976545"),
                ("vif_scale3_egl_1", "0.987500"),
                ("motion3", "26.885303"),
                ("vmaf", "100.000000"),
            ],
            &[
                ("adm2_egl_1", "0.978266"),
                ("aim_egl_1", "0.005721"),
                ("adm3_egl_1", "0.986272"),
                ("adm_scale0_egl_1", "0.954886"),
                ("adm_scale1_egl_1", "0.968136"),
                ("adm_scale2_egl_1", "0.977876"),
                ("adm_scale3_egl_1", "0.984718"),
                ("motion2", "27.730589"),
                ("motion", "27.730589"),
                ("vif_scale0_egl_1", "0.585200"),
                ("vif_scale1_egl_1", "0.940413"),
                ("vif_scale2_egl_1", "0.968364"),
                ("vif_scale3_egl_1", "0.987731"),
                ("motion3", "27.730589"),
                ("vmaf", "100.000000"),
            ],
            &[
                ("adm2_egl_1", "0.967100"),
                ("aim_egl_1", "0.000463"),
                ("adm3_egl_1", "0.983319"),
                ("adm_scale0_egl_1", "0.966647"),
                ("adm_scale1_egl_1", "0.966084"),
                ("adm_scale2_egl_1", "0.965981"),
                ("adm_scale3_egl_1", "0.969914"),
                ("motion2", "49.814354"),
                ("motion", "49.814354"),
                ("vif_scale0_egl_1", "0.622907"),
                ("vif_scale1_egl_1", "0.920177"),
                ("vif_scale2_egl_1", "0.959945"),
                ("vif_scale3_egl_1", "0.981796"),
                ("motion3", "49.814354"),
                ("vmaf", "100.000000"),
            ],
        ],
    },
    // vmaf -r b10_ref.yuv -d b10_dis.yuv -w 41 -h 35 -p 444 -b 10 -m version=vmaf_float_4k_v0.6.1 --cpumask 48 -q --json
    ModelCase {
        model: "version=vmaf_float_4k_v0.6.1",
        intel: &[],
        fixture: ("b10", PixelFormat::Yuv444, 10, (41, 35)),
        frames: &[
            &[
                ("adm2", "0.987217"),
                ("aim", "0.006738"),
                ("adm3", "0.990240"),
                ("adm_scale0", "0.965823"),
                ("adm_scale1", "0.976272"),
                ("adm_scale2", "0.985906"),
                ("adm_scale3", "0.998525"),
                ("motion2", "0.000000"),
                ("motion", "0.000000"),
                ("vif_scale0", "0.574743"),
                ("vif_scale1", "0.963254"),
                ("vif_scale2", "0.985985"),
                ("vif_scale3", "0.994011"),
                ("motion3", "27.108271"),
                ("vmaf", "97.172294"),
            ],
            &[
                ("adm2", "0.991319"),
                ("aim", "0.007155"),
                ("adm3", "0.992082"),
                ("adm_scale0", "0.965104"),
                ("adm_scale1", "0.977395"),
                ("adm_scale2", "0.989035"),
                ("adm_scale3", "1.003073"),
                ("motion2", "27.108271"),
                ("motion", "27.108271"),
                ("vif_scale0", "0.581554"),
                ("vif_scale1", "0.950152"),
                ("vif_scale2", "0.980687"),
                ("vif_scale3", "0.990135"),
                ("motion3", "27.108271"),
                ("vmaf", "100.000000"),
            ],
            &[
                ("adm2", "0.985419"),
                ("aim", "0.006413"),
                ("adm3", "0.989503"),
                ("adm_scale0", "0.959580"),
                ("adm_scale1", "0.973140"),
                ("adm_scale2", "0.988643"),
                ("adm_scale3", "0.992206"),
                ("motion2", "28.086458"),
                ("motion", "28.086458"),
                ("vif_scale0", "0.586497"),
                ("vif_scale1", "0.937337"),
                ("vif_scale2", "0.969001"),
                ("vif_scale3", "0.992850"),
                ("motion3", "28.086458"),
                ("vmaf", "100.000000"),
            ],
            &[
                ("adm2", "0.970476"),
                ("aim", "0.000624"),
                ("adm3", "0.984926"),
                ("adm_scale0", "0.970487"),
                ("adm_scale1", "0.973270"),
                ("adm_scale2", "0.962034"),
                ("adm_scale3", "0.979557"),
                ("motion2", "51.668663"),
                ("motion", "51.668663"),
                ("vif_scale0", "0.624007"),
                ("vif_scale1", "0.938549"),
                ("vif_scale2", "0.978418"),
                ("vif_scale3", "0.998783"),
                ("motion3", "51.668663"),
                ("vmaf", "100.000000"),
            ],
        ],
    },
    // vmaf -r a8_ref.yuv -d a8_dis.yuv -w 37 -h 29 -p 444 -b 8 -m version=vmaf_float_b_v0.6.3 --cpumask 48 -q --json
    ModelCase {
        model: "version=vmaf_float_b_v0.6.3",
        intel: &[],
        fixture: ("a8", PixelFormat::Yuv444, 8, (37, 29)),
        frames: &[
            &[
                ("adm2", "0.990861"),
                ("aim", "0.007118"),
                ("adm3", "0.991872"),
                ("adm_scale0", "0.968757"),
                ("adm_scale1", "0.984286"),
                ("adm_scale2", "0.988049"),
                ("adm_scale3", "1.001169"),
                ("motion2", "0.000000"),
                ("motion", "0.000000"),
                ("vif_scale0", "0.568906"),
                ("vif_scale1", "0.960668"),
                ("vif_scale2", "0.985725"),
                ("vif_scale3", "0.993147"),
                ("motion3", "25.929462"),
                ("vmaf", "93.581023"),
                ("vmaf_0001", "94.970074"),
                ("vmaf_0002", "92.922442"),
                ("vmaf_0003", "93.099521"),
                ("vmaf_0004", "92.769849"),
                ("vmaf_0005", "96.279992"),
                ("vmaf_0006", "90.780428"),
                ("vmaf_0007", "91.996745"),
                ("vmaf_0008", "95.193452"),
                ("vmaf_0009", "91.521252"),
                ("vmaf_0010", "95.795984"),
                ("vmaf_0011", "89.355259"),
                ("vmaf_0012", "95.639522"),
                ("vmaf_0013", "91.533350"),
                ("vmaf_0014", "96.101754"),
                ("vmaf_0015", "89.348113"),
                ("vmaf_0016", "85.960799"),
                ("vmaf_0017", "88.687815"),
                ("vmaf_0018", "90.748514"),
                ("vmaf_0019", "98.626676"),
                ("vmaf_0020", "90.432896"),
                ("vmaf_bagging", "92.588222"),
                ("vmaf_stddev", "3.073183"),
                ("vmaf_ci_p95_lo", "87.256131"),
                ("vmaf_ci_p95_hi", "97.512001"),
            ],
            &[
                ("adm2", "0.987198"),
                ("aim", "0.008613"),
                ("adm3", "0.989293"),
                ("adm_scale0", "0.963747"),
                ("adm_scale1", "0.981416"),
                ("adm_scale2", "0.977994"),
                ("adm_scale3", "1.002368"),
                ("motion2", "25.929462"),
                ("motion", "25.929462"),
                ("vif_scale0", "0.572038"),
                ("vif_scale1", "0.949657"),
                ("vif_scale2", "0.980321"),
                ("vif_scale3", "0.989415"),
                ("motion3", "25.929462"),
                ("vmaf", "100.000000"),
                ("vmaf_0001", "100.000000"),
                ("vmaf_0002", "100.000000"),
                ("vmaf_0003", "100.000000"),
                ("vmaf_0004", "100.000000"),
                ("vmaf_0005", "100.000000"),
                ("vmaf_0006", "100.000000"),
                ("vmaf_0007", "100.000000"),
                ("vmaf_0008", "100.000000"),
                ("vmaf_0009", "100.000000"),
                ("vmaf_0010", "100.000000"),
                ("vmaf_0011", "100.000000"),
                ("vmaf_0012", "100.000000"),
                ("vmaf_0013", "100.000000"),
                ("vmaf_0014", "100.000000"),
                ("vmaf_0015", "100.000000"),
                ("vmaf_0016", "100.000000"),
                ("vmaf_0017", "100.000000"),
                ("vmaf_0018", "100.000000"),
                ("vmaf_0019", "100.000000"),
                ("vmaf_0020", "100.000000"),
                ("vmaf_bagging", "100.000000"),
                ("vmaf_stddev", "0.000000"),
                ("vmaf_ci_p95_lo", "100.000000"),
                ("vmaf_ci_p95_hi", "100.000000"),
            ],
            &[
                ("adm2", "0.978575"),
                ("aim", "0.008466"),
                ("adm3", "0.985054"),
                ("adm_scale0", "0.956709"),
                ("adm_scale1", "0.961496"),
                ("adm_scale2", "0.988678"),
                ("adm_scale3", "0.984248"),
                ("motion2", "27.397858"),
                ("motion", "27.397858"),
                ("vif_scale0", "0.581047"),
                ("vif_scale1", "0.939448"),
                ("vif_scale2", "0.970825"),
                ("vif_scale3", "0.997946"),
                ("motion3", "27.397858"),
                ("vmaf", "100.000000"),
                ("vmaf_0001", "100.000000"),
                ("vmaf_0002", "100.000000"),
                ("vmaf_0003", "100.000000"),
                ("vmaf_0004", "100.000000"),
                ("vmaf_0005", "100.000000"),
                ("vmaf_0006", "100.000000"),
                ("vmaf_0007", "100.000000"),
                ("vmaf_0008", "100.000000"),
                ("vmaf_0009", "100.000000"),
                ("vmaf_0010", "100.000000"),
                ("vmaf_0011", "100.000000"),
                ("vmaf_0012", "100.000000"),
                ("vmaf_0013", "100.000000"),
                ("vmaf_0014", "100.000000"),
                ("vmaf_0015", "100.000000"),
                ("vmaf_0016", "100.000000"),
                ("vmaf_0017", "100.000000"),
                ("vmaf_0018", "100.000000"),
                ("vmaf_0019", "100.000000"),
                ("vmaf_0020", "100.000000"),
                ("vmaf_bagging", "100.000000"),
                ("vmaf_stddev", "0.000000"),
                ("vmaf_ci_p95_lo", "100.000000"),
                ("vmaf_ci_p95_hi", "100.000000"),
            ],
            &[
                ("adm2", "0.973248"),
                ("aim", "0.000656"),
                ("adm3", "0.986296"),
                ("adm_scale0", "0.971320"),
                ("adm_scale1", "0.973664"),
                ("adm_scale2", "0.971615"),
                ("adm_scale3", "0.979266"),
                ("motion2", "48.385204"),
                ("motion", "48.385204"),
                ("vif_scale0", "0.626886"),
                ("vif_scale1", "0.931708"),
                ("vif_scale2", "0.975271"),
                ("vif_scale3", "1.012744"),
                ("motion3", "48.385204"),
                ("vmaf", "100.000000"),
                ("vmaf_0001", "100.000000"),
                ("vmaf_0002", "100.000000"),
                ("vmaf_0003", "100.000000"),
                ("vmaf_0004", "100.000000"),
                ("vmaf_0005", "100.000000"),
                ("vmaf_0006", "100.000000"),
                ("vmaf_0007", "100.000000"),
                ("vmaf_0008", "100.000000"),
                ("vmaf_0009", "100.000000"),
                ("vmaf_0010", "100.000000"),
                ("vmaf_0011", "100.000000"),
                ("vmaf_0012", "100.000000"),
                ("vmaf_0013", "100.000000"),
                ("vmaf_0014", "100.000000"),
                ("vmaf_0015", "100.000000"),
                ("vmaf_0016", "100.000000"),
                ("vmaf_0017", "100.000000"),
                ("vmaf_0018", "100.000000"),
                ("vmaf_0019", "100.000000"),
                ("vmaf_0020", "100.000000"),
                ("vmaf_bagging", "100.000000"),
                ("vmaf_stddev", "0.000000"),
                ("vmaf_ci_p95_lo", "100.000000"),
                ("vmaf_ci_p95_hi", "100.000000"),
            ],
        ],
    },
    // vmaf -r d12_ref.yuv -d d12_dis.yuv -w 48 -h 40 -p 444 -b 12 -m version=vmaf_float_v0.6.1neg:name=n:float_vif.vif_enhn_gain_limit=1.5 --cpumask 48 -q --json
    ModelCase {
        model: "version=vmaf_float_v0.6.1neg:name=n:float_vif.vif_enhn_gain_limit=1.5",
        intel: &[],
        fixture: ("d12", PixelFormat::Yuv444, 12, (48, 40)),
        frames: &[
            &[
                ("adm2_egl_1", "0.978746"),
                ("aim_egl_1", "0.006941"),
                ("adm3_egl_1", "0.985903"),
                ("adm_scale0_egl_1", "0.960088"),
                ("adm_scale1_egl_1", "0.966246"),
                ("adm_scale2_egl_1", "0.977859"),
                ("adm_scale3_egl_1", "0.990137"),
                ("motion2", "0.000000"),
                ("motion", "0.000000"),
                ("vif_scale0_egl_1.5", "0.576970"),
                ("vif_scale1_egl_1.5", "0.959811"),
                ("vif_scale2_egl_1.5", "0.985296"),
                ("vif_scale3_egl_1.5", "0.993941"),
                ("motion3", "27.755667"),
                ("n", "91.770007"),
            ],
            &[
                ("adm2_egl_1", "0.981373"),
                ("aim_egl_1", "0.007662"),
                ("adm3_egl_1", "0.986855"),
                ("adm_scale0_egl_1", "0.964037"),
                ("adm_scale1_egl_1", "0.968000"),
                ("adm_scale2_egl_1", "0.978756"),
                ("adm_scale3_egl_1", "0.991851"),
                ("motion2", "27.755667"),
                ("motion", "27.755667"),
                ("vif_scale0_egl_1.5", "0.585670"),
                ("vif_scale1_egl_1.5", "0.950768"),
                ("vif_scale2_egl_1.5", "0.979384"),
                ("vif_scale3_egl_1.5", "0.988157"),
                ("motion3", "27.755667"),
                ("n", "100.000000"),
            ],
            &[
                ("adm2_egl_1", "0.977680"),
                ("aim_egl_1", "0.006776"),
                ("adm3_egl_1", "0.985452"),
                ("adm_scale0_egl_1", "0.955735"),
                ("adm_scale1_egl_1", "0.966202"),
                ("adm_scale2_egl_1", "0.977491"),
                ("adm_scale3_egl_1", "0.985865"),
                ("motion2", "28.148626"),
                ("motion", "28.148626"),
                ("vif_scale0_egl_1.5", "0.586947"),
                ("vif_scale1_egl_1.5", "0.942566"),
                ("vif_scale2_egl_1.5", "0.970188"),
                ("vif_scale3_egl_1.5", "0.987669"),
                ("motion3", "28.148626"),
                ("n", "100.000000"),
            ],
            &[
                ("adm2_egl_1", "0.967739"),
                ("aim_egl_1", "0.000736"),
                ("adm3_egl_1", "0.983502"),
                ("adm_scale0_egl_1", "0.966346"),
                ("adm_scale1_egl_1", "0.968429"),
                ("adm_scale2_egl_1", "0.966811"),
                ("adm_scale3_egl_1", "0.970423"),
                ("motion2", "50.202030"),
                ("motion", "50.202030"),
                ("vif_scale0_egl_1.5", "0.621737"),
                ("vif_scale1_egl_1.5", "0.932499"),
                ("vif_scale2_egl_1.5", "0.975639"),
                ("vif_scale3_egl_1.5", "1.005324"),
                ("motion3", "50.202030"),
                ("n", "100.000000"),
            ],
        ],
    },
];
