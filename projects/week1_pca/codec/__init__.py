"""The parts the patch codec (``projects.week1_pca.patch_codec``) is built from, one idea each.

The lesson is ``basis``: the Karhunen-Loeve transform learned from the image's blocks, its
rows quantized and made orthonormal again by Gram-Schmidt, and the 2-D DCT as the fixed
alternative. Around it, in the order an image meets them (``patch_codec`` runs them):
- ``colour``: the opponent colour transform and 4:2:0 chroma;
- ``blocks``: a plane cut into B x B blocks, and tiled back;
- ``basis``: the lesson, as above;
- ``planes``: one plane coded in its basis (transform, quantize, drop the silent tail), and
  decoded;
- ``quantizer``: the dead-zone quantizer and the rate-distortion price of a bit;
- ``entropy_coding``: prediction, activity ordering, zigzag, byte planes, LZMA;
- ``byte_format``: the header with its CRC-32, and the payload.
"""
