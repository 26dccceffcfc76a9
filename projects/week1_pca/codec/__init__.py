"""The parts the patch codec (``projects.week1_pca.patch_codec``) is built from, one idea each.

The codec itself, blocks and their Karhunen-Loeve basis (learned, quantized, or the fixed
DCT), is the lesson and lives in ``patch_codec.py``; around it, in the order an image meets
them:
- ``colour``: the opponent colour transform and 4:2:0 chroma;
- ``quantizer``: the dead-zone quantizer and the rate-distortion price of a bit;
- ``entropy_coding``: prediction, activity ordering, zigzag, byte planes, LZMA;
- ``byte_format``: the header with its CRC-32, and the payload.
"""
