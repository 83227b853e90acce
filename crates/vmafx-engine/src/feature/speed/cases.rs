// Generated from libvmaf v3.2.0 output; see the module comment for the commands.

const CASES: &[Case] = &[
    // vmaf --cpumask 48 -r 420_8_497x331_ref.yuv -d 420_8_497x331_dis.yuv -w 497 -h 331 -p 420 -b 8 -n --feature speed_chroma
    Case {
        extractor: "speed_chroma",
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (497, 331),
        options: &[],
        flat_u: false,
        frames: &[
            &[("Speed_chroma_feature_speed_chroma_u_score", "4.808115"), ("Speed_chroma_feature_speed_chroma_v_score", "13.118828"), ("Speed_chroma_feature_speed_chroma_uv_score", "8.963471")],
            &[("Speed_chroma_feature_speed_chroma_u_score", "14.698550"), ("Speed_chroma_feature_speed_chroma_v_score", "11.359921"), ("Speed_chroma_feature_speed_chroma_uv_score", "13.029236")],
            &[("Speed_chroma_feature_speed_chroma_u_score", "11.792473"), ("Speed_chroma_feature_speed_chroma_v_score", "9.932284"), ("Speed_chroma_feature_speed_chroma_uv_score", "10.862379")],
        ],
    },
    // vmaf --cpumask 48 -r 420_8_497x331_ref.yuv -d 420_8_497x331_dis.yuv -w 497 -h 331 -p 420 -b 8 -n --feature speed_chroma=speed_kernelscale=1.0:speed_nn_floor=0.1:speed_sigma_nn=0.19:speed_weight_var_mode=5:speed_max_val=45
    Case {
        extractor: "speed_chroma",
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (497, 331),
        options: &[("speed_kernelscale", "1.0"), ("speed_nn_floor", "0.1"), ("speed_sigma_nn", "0.19"), ("speed_weight_var_mode", "5"), ("speed_max_val", "45")],
        flat_u: false,
        frames: &[
            &[("speed_chroma_u_mxv_45_nnf_0.1_snn_0.19_wvm_5", "2.891754"), ("speed_chroma_v_mxv_45_nnf_0.1_snn_0.19_wvm_5", "7.801826"), ("speed_chroma_uv_mxv_45_nnf_0.1_snn_0.19_wvm_5", "5.346790")],
            &[("speed_chroma_u_mxv_45_nnf_0.1_snn_0.19_wvm_5", "7.533493"), ("speed_chroma_v_mxv_45_nnf_0.1_snn_0.19_wvm_5", "4.922646"), ("speed_chroma_uv_mxv_45_nnf_0.1_snn_0.19_wvm_5", "6.228069")],
            &[("speed_chroma_u_mxv_45_nnf_0.1_snn_0.19_wvm_5", "6.125465"), ("speed_chroma_v_mxv_45_nnf_0.1_snn_0.19_wvm_5", "6.649348"), ("speed_chroma_uv_mxv_45_nnf_0.1_snn_0.19_wvm_5", "6.387406")],
        ],
    },
    // vmaf --cpumask 48 -r 422_10_331x197_ref.yuv -d 422_10_331x197_dis.yuv -w 331 -h 197 -p 422 -b 10 -n --feature speed_chroma=speed_nn_floor=0.1:speed_sigma_nn=0.19:speed_weight_var_mode=5:speed_max_val=45
    Case {
        extractor: "speed_chroma",
        format: PixelFormat::Yuv422,
        bit_depth: 10,
        size: (331, 197),
        options: &[("speed_nn_floor", "0.1"), ("speed_sigma_nn", "0.19"), ("speed_weight_var_mode", "5"), ("speed_max_val", "45")],
        flat_u: false,
        frames: &[
            &[("speed_chroma_u_mxv_45_nnf_0.1_snn_0.19_wvm_5", "3.257980"), ("speed_chroma_v_mxv_45_nnf_0.1_snn_0.19_wvm_5", "4.520138"), ("speed_chroma_uv_mxv_45_nnf_0.1_snn_0.19_wvm_5", "3.889059")],
            &[("speed_chroma_u_mxv_45_nnf_0.1_snn_0.19_wvm_5", "10.169018"), ("speed_chroma_v_mxv_45_nnf_0.1_snn_0.19_wvm_5", "4.754677"), ("speed_chroma_uv_mxv_45_nnf_0.1_snn_0.19_wvm_5", "7.461847")],
            &[("speed_chroma_u_mxv_45_nnf_0.1_snn_0.19_wvm_5", "4.696590"), ("speed_chroma_v_mxv_45_nnf_0.1_snn_0.19_wvm_5", "4.406231"), ("speed_chroma_uv_mxv_45_nnf_0.1_snn_0.19_wvm_5", "4.551411")],
        ],
    },
    // vmaf --cpumask 48 -r 444_8_333x337_ref.yuv -d 444_8_333x337_dis.yuv -w 333 -h 337 -p 444 -b 8 -n --feature speed_chroma=speed_nn_floor=0.1:speed_sigma_nn=0.19:speed_weight_var_mode=5:speed_max_val=45:speed_prescale=0.5:speed_prescale_method=bilinear
    Case {
        extractor: "speed_chroma",
        format: PixelFormat::Yuv444,
        bit_depth: 8,
        size: (333, 337),
        options: &[("speed_nn_floor", "0.1"), ("speed_sigma_nn", "0.19"), ("speed_weight_var_mode", "5"), ("speed_max_val", "45"), ("speed_prescale", "0.5"), ("speed_prescale_method", "bilinear")],
        flat_u: false,
        frames: &[
            &[("speed_chroma_u_mxv_45_nnf_0.1_ps_0.5_psm_bilinear_snn_0.19_wvm_5", "5.416348"), ("speed_chroma_v_mxv_45_nnf_0.1_ps_0.5_psm_bilinear_snn_0.19_wvm_5", "7.537481"), ("speed_chroma_uv_mxv_45_nnf_0.1_ps_0.5_psm_bilinear_snn_0.19_wvm_5", "6.476914")],
            &[("speed_chroma_u_mxv_45_nnf_0.1_ps_0.5_psm_bilinear_snn_0.19_wvm_5", "6.319817"), ("speed_chroma_v_mxv_45_nnf_0.1_ps_0.5_psm_bilinear_snn_0.19_wvm_5", "7.998232"), ("speed_chroma_uv_mxv_45_nnf_0.1_ps_0.5_psm_bilinear_snn_0.19_wvm_5", "7.159024")],
            &[("speed_chroma_u_mxv_45_nnf_0.1_ps_0.5_psm_bilinear_snn_0.19_wvm_5", "2.826792"), ("speed_chroma_v_mxv_45_nnf_0.1_ps_0.5_psm_bilinear_snn_0.19_wvm_5", "3.395428"), ("speed_chroma_uv_mxv_45_nnf_0.1_ps_0.5_psm_bilinear_snn_0.19_wvm_5", "3.111110")],
        ],
    },
    // vmaf --cpumask 48 -r 420_10_611x541_ref.yuv -d 420_10_611x541_dis.yuv -w 611 -h 541 -p 420 -b 10 -n --feature speed_chroma=speed_nn_floor=0.1:speed_sigma_nn=0.19:speed_weight_var_mode=5:speed_max_val=45:speed_prescale=0.6:speed_prescale_method=bilinear
    Case {
        extractor: "speed_chroma",
        format: PixelFormat::Yuv420,
        bit_depth: 10,
        size: (611, 541),
        options: &[("speed_nn_floor", "0.1"), ("speed_sigma_nn", "0.19"), ("speed_weight_var_mode", "5"), ("speed_max_val", "45"), ("speed_prescale", "0.6"), ("speed_prescale_method", "bilinear")],
        flat_u: false,
        frames: &[
            &[("speed_chroma_u_mxv_45_nnf_0.1_ps_0.6_psm_bilinear_snn_0.19_wvm_5", "7.888340"), ("speed_chroma_v_mxv_45_nnf_0.1_ps_0.6_psm_bilinear_snn_0.19_wvm_5", "5.708307"), ("speed_chroma_uv_mxv_45_nnf_0.1_ps_0.6_psm_bilinear_snn_0.19_wvm_5", "6.798324")],
            &[("speed_chroma_u_mxv_45_nnf_0.1_ps_0.6_psm_bilinear_snn_0.19_wvm_5", "3.307816"), ("speed_chroma_v_mxv_45_nnf_0.1_ps_0.6_psm_bilinear_snn_0.19_wvm_5", "6.061165"), ("speed_chroma_uv_mxv_45_nnf_0.1_ps_0.6_psm_bilinear_snn_0.19_wvm_5", "4.684490")],
            &[("speed_chroma_u_mxv_45_nnf_0.1_ps_0.6_psm_bilinear_snn_0.19_wvm_5", "4.994141"), ("speed_chroma_v_mxv_45_nnf_0.1_ps_0.6_psm_bilinear_snn_0.19_wvm_5", "2.862206"), ("speed_chroma_uv_mxv_45_nnf_0.1_ps_0.6_psm_bilinear_snn_0.19_wvm_5", "3.928173")],
        ],
    },
    // vmaf --cpumask 48 -r 420_8_181x173_ref.yuv -d 420_8_181x173_dis.yuv -w 181 -h 173 -p 420 -b 8 -n --feature speed_chroma=speed_prescale=2:speed_prescale_method=bicubic:speed_weight_var_mode=1
    Case {
        extractor: "speed_chroma",
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (181, 173),
        options: &[("speed_prescale", "2"), ("speed_prescale_method", "bicubic"), ("speed_weight_var_mode", "1")],
        flat_u: false,
        frames: &[
            &[("speed_chroma_u_ps_2_psm_bicubic_wvm_1", "8.682701"), ("speed_chroma_v_ps_2_psm_bicubic_wvm_1", "1.276054"), ("speed_chroma_uv_ps_2_psm_bicubic_wvm_1", "4.979378")],
            &[("speed_chroma_u_ps_2_psm_bicubic_wvm_1", "2.387985"), ("speed_chroma_v_ps_2_psm_bicubic_wvm_1", "7.102318"), ("speed_chroma_uv_ps_2_psm_bicubic_wvm_1", "4.745152")],
            &[("speed_chroma_u_ps_2_psm_bicubic_wvm_1", "2.154236"), ("speed_chroma_v_ps_2_psm_bicubic_wvm_1", "1.796112"), ("speed_chroma_uv_ps_2_psm_bicubic_wvm_1", "1.975174")],
        ],
    },
    // vmaf --cpumask 48 -r 444_10_131x127_ref.yuv -d 444_10_131x127_dis.yuv -w 131 -h 127 -p 444 -b 10 -n --feature speed_chroma=speed_prescale=1.5:speed_prescale_method=lanczos4:speed_weight_var_mode=2
    Case {
        extractor: "speed_chroma",
        format: PixelFormat::Yuv444,
        bit_depth: 10,
        size: (131, 127),
        options: &[("speed_prescale", "1.5"), ("speed_prescale_method", "lanczos4"), ("speed_weight_var_mode", "2")],
        flat_u: false,
        frames: &[
            &[("speed_chroma_u_ps_1.5_psm_lanczos4_wvm_2", "4.205151"), ("speed_chroma_v_ps_1.5_psm_lanczos4_wvm_2", "1.185509"), ("speed_chroma_uv_ps_1.5_psm_lanczos4_wvm_2", "2.695330")],
            &[("speed_chroma_u_ps_1.5_psm_lanczos4_wvm_2", "1.418293"), ("speed_chroma_v_ps_1.5_psm_lanczos4_wvm_2", "2.866611"), ("speed_chroma_uv_ps_1.5_psm_lanczos4_wvm_2", "2.142452")],
            &[("speed_chroma_u_ps_1.5_psm_lanczos4_wvm_2", "1.607403"), ("speed_chroma_v_ps_1.5_psm_lanczos4_wvm_2", "4.456261"), ("speed_chroma_uv_ps_1.5_psm_lanczos4_wvm_2", "3.031832")],
        ],
    },
    // vmaf --cpumask 48 -r 422_8_97x67_ref.yuv -d 422_8_97x67_dis.yuv -w 97 -h 67 -p 422 -b 8 -n --feature speed_chroma=speed_prescale=3:speed_kernelscale=0.5:speed_weight_var_mode=3
    Case {
        extractor: "speed_chroma",
        format: PixelFormat::Yuv422,
        bit_depth: 8,
        size: (97, 67),
        options: &[("speed_prescale", "3"), ("speed_kernelscale", "0.5"), ("speed_weight_var_mode", "3")],
        flat_u: false,
        frames: &[
            &[("speed_chroma_u_ks_0.5_ps_3_wvm_3", "0.000000"), ("speed_chroma_v_ks_0.5_ps_3_wvm_3", "0.000000"), ("speed_chroma_uv_ks_0.5_ps_3_wvm_3", "0.000000")],
            &[("speed_chroma_u_ks_0.5_ps_3_wvm_3", "0.000000"), ("speed_chroma_v_ks_0.5_ps_3_wvm_3", "0.000000"), ("speed_chroma_uv_ks_0.5_ps_3_wvm_3", "0.000000")],
            &[("speed_chroma_u_ks_0.5_ps_3_wvm_3", "0.000000"), ("speed_chroma_v_ks_0.5_ps_3_wvm_3", "0.000000"), ("speed_chroma_uv_ks_0.5_ps_3_wvm_3", "0.000000")],
        ],
    },
    // vmaf --cpumask 48 -r 420_8_497x331_ref.yuv -d 420_8_497x331_dis.yuv -w 497 -h 331 -p 420 -b 8 -n --feature speed_chroma=speed_kernelscale=2:speed_weight_var_mode=4:speed_sigma_nn=0.5
    Case {
        extractor: "speed_chroma",
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (497, 331),
        options: &[("speed_kernelscale", "2"), ("speed_weight_var_mode", "4"), ("speed_sigma_nn", "0.5")],
        flat_u: false,
        frames: &[
            &[("speed_chroma_u_ks_2_snn_0.5_wvm_4", "3.357360"), ("speed_chroma_v_ks_2_snn_0.5_wvm_4", "8.888865"), ("speed_chroma_uv_ks_2_snn_0.5_wvm_4", "6.123113")],
            &[("speed_chroma_u_ks_2_snn_0.5_wvm_4", "9.872994"), ("speed_chroma_v_ks_2_snn_0.5_wvm_4", "5.987085"), ("speed_chroma_uv_ks_2_snn_0.5_wvm_4", "7.930039")],
            &[("speed_chroma_u_ks_2_snn_0.5_wvm_4", "4.982580"), ("speed_chroma_v_ks_2_snn_0.5_wvm_4", "5.159882"), ("speed_chroma_uv_ks_2_snn_0.5_wvm_4", "5.071231")],
        ],
    },
    // vmaf --cpumask 48 -r 422_8_331x197_ref.yuv -d 422_8_331x197_dis.yuv -w 331 -h 197 -p 422 -b 8 -n --feature speed_chroma=speed_weight_var_mode=6:speed_nn_floor=1:speed_kernelscale=1.5
    Case {
        extractor: "speed_chroma",
        format: PixelFormat::Yuv422,
        bit_depth: 8,
        size: (331, 197),
        options: &[("speed_weight_var_mode", "6"), ("speed_nn_floor", "1"), ("speed_kernelscale", "1.5")],
        flat_u: false,
        frames: &[
            &[("speed_chroma_u_ks_1.5_nnf_1_wvm_6", "10.661602"), ("speed_chroma_v_ks_1.5_nnf_1_wvm_6", "6.460869"), ("speed_chroma_uv_ks_1.5_nnf_1_wvm_6", "8.561235")],
            &[("speed_chroma_u_ks_1.5_nnf_1_wvm_6", "7.780352"), ("speed_chroma_v_ks_1.5_nnf_1_wvm_6", "9.815001"), ("speed_chroma_uv_ks_1.5_nnf_1_wvm_6", "8.797676")],
            &[("speed_chroma_u_ks_1.5_nnf_1_wvm_6", "6.055367"), ("speed_chroma_v_ks_1.5_nnf_1_wvm_6", "2.774021"), ("speed_chroma_uv_ks_1.5_nnf_1_wvm_6", "4.414694")],
        ],
    },
    // vmaf --cpumask 48 -r 444_12_171x165_ref.yuv -d 444_12_171x165_dis.yuv -w 171 -h 165 -p 444 -b 12 -n --feature speed_chroma
    Case {
        extractor: "speed_chroma",
        format: PixelFormat::Yuv444,
        bit_depth: 12,
        size: (171, 165),
        options: &[],
        flat_u: false,
        frames: &[
            &[("Speed_chroma_feature_speed_chroma_u_score", "3.162079"), ("Speed_chroma_feature_speed_chroma_v_score", "6.114590"), ("Speed_chroma_feature_speed_chroma_uv_score", "4.638334")],
            &[("Speed_chroma_feature_speed_chroma_u_score", "22.671890"), ("Speed_chroma_feature_speed_chroma_v_score", "10.104412"), ("Speed_chroma_feature_speed_chroma_uv_score", "16.388151")],
            &[("Speed_chroma_feature_speed_chroma_u_score", "5.290947"), ("Speed_chroma_feature_speed_chroma_v_score", "8.360924"), ("Speed_chroma_feature_speed_chroma_uv_score", "6.825935")],
        ],
    },
    // vmaf --cpumask 48 -r 420_8_497x331_flatu_ref.yuv -d 420_8_497x331_flatu_dis.yuv -w 497 -h 331 -p 420 -b 8 -n --feature speed_chroma=speed_sigma_nn=0.19:speed_nn_floor=0.1
    Case {
        extractor: "speed_chroma",
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (497, 331),
        options: &[("speed_sigma_nn", "0.19"), ("speed_nn_floor", "0.1")],
        flat_u: true,
        frames: &[
            &[("speed_chroma_u_nnf_0.1_snn_0.19", "0.000000"), ("speed_chroma_v_nnf_0.1_snn_0.19", "13.279808"), ("speed_chroma_uv_nnf_0.1_snn_0.19", "13.279808")],
            &[("speed_chroma_u_nnf_0.1_snn_0.19", "0.000000"), ("speed_chroma_v_nnf_0.1_snn_0.19", "11.474693"), ("speed_chroma_uv_nnf_0.1_snn_0.19", "11.474693")],
            &[("speed_chroma_u_nnf_0.1_snn_0.19", "0.000000"), ("speed_chroma_v_nnf_0.1_snn_0.19", "10.212192"), ("speed_chroma_uv_nnf_0.1_snn_0.19", "10.212192")],
        ],
    },
    // vmaf --cpumask 48 -r 444_10_171x165_flatu_ref.yuv -d 444_10_171x165_flatu_dis.yuv -w 171 -h 165 -p 444 -b 10 -n --feature speed_chroma=speed_weight_var_mode=5
    Case {
        extractor: "speed_chroma",
        format: PixelFormat::Yuv444,
        bit_depth: 10,
        size: (171, 165),
        options: &[("speed_weight_var_mode", "5")],
        flat_u: true,
        frames: &[
            &[("speed_chroma_u_wvm_5", "0.000000"), ("speed_chroma_v_wvm_5", "4.134991"), ("speed_chroma_uv_wvm_5", "4.134991")],
            &[("speed_chroma_u_wvm_5", "0.000000"), ("speed_chroma_v_wvm_5", "3.849300"), ("speed_chroma_uv_wvm_5", "3.849300")],
            &[("speed_chroma_u_wvm_5", "0.000000"), ("speed_chroma_v_wvm_5", "3.936390"), ("speed_chroma_uv_wvm_5", "3.936390")],
        ],
    },
    // vmaf --cpumask 48 -r 420_8_197x181_ref.yuv -d 420_8_197x181_dis.yuv -w 197 -h 181 -p 420 -b 8 -n --feature speed_temporal
    Case {
        extractor: "speed_temporal",
        format: PixelFormat::Yuv420,
        bit_depth: 8,
        size: (197, 181),
        options: &[],
        flat_u: false,
        frames: &[
            &[("Speed_temporal_feature_speed_temporal_score", "0.000000")],
            &[("Speed_temporal_feature_speed_temporal_score", "5.943233")],
            &[("Speed_temporal_feature_speed_temporal_score", "3.440857")],
        ],
    },
    // vmaf --cpumask 48 -r 444_10_333x337_ref.yuv -d 444_10_333x337_dis.yuv -w 333 -h 337 -p 444 -b 10 -n --feature speed_temporal=speed_use_ref_diff=true:speed_prescale=0.5:speed_prescale_method=bilinear
    Case {
        extractor: "speed_temporal",
        format: PixelFormat::Yuv444,
        bit_depth: 10,
        size: (333, 337),
        options: &[("speed_use_ref_diff", "true"), ("speed_prescale", "0.5"), ("speed_prescale_method", "bilinear")],
        flat_u: false,
        frames: &[
            &[("speed_temporal_ps_0.5_psm_bilinear_urd", "0.000000")],
            &[("speed_temporal_ps_0.5_psm_bilinear_urd", "3.215412")],
            &[("speed_temporal_ps_0.5_psm_bilinear_urd", "0.822563")],
        ],
    },
    // vmaf --cpumask 48 -r 422_8_201x199_ref.yuv -d 422_8_201x199_dis.yuv -w 201 -h 199 -p 422 -b 8 -n --feature speed_temporal=speed_sigma_nn=0.5:speed_nn_floor=0.2:speed_max_val=1
    Case {
        extractor: "speed_temporal",
        format: PixelFormat::Yuv422,
        bit_depth: 8,
        size: (201, 199),
        options: &[("speed_sigma_nn", "0.5"), ("speed_nn_floor", "0.2"), ("speed_max_val", "1")],
        flat_u: false,
        frames: &[
            &[("speed_temporal_mxv_1_nnf_0.2_snn_0.5", "0.000000")],
            &[("speed_temporal_mxv_1_nnf_0.2_snn_0.5", "5.981647")],
            &[("speed_temporal_mxv_1_nnf_0.2_snn_0.5", "3.436180")],
        ],
    },
];
