/* Test vectors shared by several unit tests. */
#pragma once

/* libp2p/specs peer-ids/peer-ids.md, "Test vectors" */
#define SPEC_ED25519_PRIVATE                                                                       \
        "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144" \
        "b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define SPEC_ED25519_PUBLIC                                                                        \
        "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define SPEC_SECP256K1_PRIVATE                                                                     \
        "0802122053DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB"
#define SPEC_SECP256K1_PUBLIC                                                                      \
        "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99"
#define SPEC_ECDSA_PRIVATE                                                                         \
        "08031279307702010104203E5B1FE9712E6C314942A750BD67485DE3C1EFE85B1BFB520AE8F9AE3DFA4A4CA0" \
        "0A06082A8648CE3D030107A14403420004DE3D300FA36AE0E8F5D530899D83ABAB44ABF3161F162A4BC901D8" \
        "E6ECDA020E8B6D5F8DA30525E71D6851510C098E5C47C646A597FB4DCEC034E9F77C409E62"
#define SPEC_ECDSA_PUBLIC                                                                          \
        "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d" \
        "83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec0" \
        "34e9f77c409e62"
#define SPEC_RSA_PUBLIC                                                                            \
        "080012a60430820222300d06092a864886f70d01010105000382020f003082020a0282020100e1beab071d08" \
        "200bde24eef00d049449b07770ff9910257b2d7d5dda242ce8f0e2f12e1af4b32d9efd2c090f66b0f29986db" \
        "b645dae9880089704a94e5066d594162ae6ee8892e6ec70701db0a6c445c04778eb3de1293aa1a23c3825b85" \
        "c6620a2bc3f82f9b0c309bc0ab3aeb1873282bebd3da03c33e76c21e9beb172fd44c9e43be32e2c99827033c" \
        "f8d0f0c606f4579326c930eb4e854395ad941256542c793902185153c474bed109d6ff5141ebf9cd256cf588" \
        "93a37f83729f97e7cb435ec679d2e33901d27bb35aa0d7e20561da08885ef0abbf8e2fb48d6a5487047a9ecb" \
        "1ad41fa7ed84f6e3e8ecd5d98b3982d2a901b4454991766da295ab78822add5612a2df83bcee814cf50973e8" \
        "0d7ef38111b1bd87da2ae92438a2c8cbcc70b31ee319939a3b9c761dbc13b5c086d6b64bf7ae7dacc1462237" \
        "5d92a8ff9af7eb962162bbddebf90acb32adb5e4e4029f1c96019949ecfbfeffd7ac1e3fbcc6b6168c34be3d" \
        "5a2e5999fcbb39bba7adbca78eab09b9bc39f7fa4b93411f4cc175e70c0a083e96bfaefb04a9580b4753c173" \
        "8a6a760ae1afd851a1a4bdad231cf56e9284d832483df215a46c1c21bdf0c6cfe951c18f1ee4078c79c13d63" \
        "edb6e14feaeffabc90ad317e4875fe648101b0864097e998f0ca3025ef9638cd2b0caecd3770ab54a1d9c6ca" \
        "959b0f5dcbc90caeefc4135baca6fd475224269bbe1b0203010001"

/* The examples of libp2p/specs peer-ids/peer-ids.md, "String representation":
 * a sha2-256 peer id (base58btc, CIDv1, bytes) and an inline Ed25519 one. */
#define SPEC_PEER_SHA     "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
#define SPEC_PEER_SHA_CID "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"
#define SPEC_PEER_SHA_HEX "12209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9"
#define SPEC_PEER_ED      "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
#define SPEC_PEER_ED_HEX                                                                           \
        "0024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336b"
