"""Readers (and writers, for round trips) of real radar recordings.

- :mod:`.dca1000` -- TI DCA1000EVM raw ADC captures (``.bin``), memory-mapped, frame by frame.
- :mod:`.ti_tlv` -- TI mmWave SDK 3.x UART/TLV streams (out-of-box demo point clouds).
- :mod:`.radhar_text` -- RadHAR ``rostopic echo`` text dumps of ``ti_mmwave`` point messages.
- :mod:`.openradar` -- the OpenRadar tutorial raw-ADC captures and their chirp configuration.

Every reader reports malformed input as :class:`RadarFormatError` (a ``ValueError``) whose
message names the byte offset of the problem; see ``docs/formats.md``.
"""

from .dca1000 import DCA1000Layout, DCA1000Reader, write_dca1000
from .errors import RadarFormatError, RadarFormatWarning
from .openradar import (
    OPENRADAR_CHIRP_CONFIG,
    OPENRADAR_FILES,
    OpenRadarChirpConfig,
    load_openradar_sample,
    from_signed_int16,
    load_openradar_samples,
    save_openradar_sample,
    to_signed_int16,
    virtual_to_adc_cube,
)
from .radhar_text import (
    RADHAR_COLUMNS,
    RadHARRecording,
    format_radhar_text,
    parse_radhar_text,
    read_radhar_text,
    write_radhar_text,
)
from .ti_tlv import (
    MAGIC_WORD,
    SkippedBytes,
    TLVFrame,
    TLVReader,
    TLVType,
    parse_tlv_stream,
    read_tlv_file,
    stack_point_clouds,
    write_tlv_frame,
)

__all__ = [
    "RadarFormatError",
    "RadarFormatWarning",
    # DCA1000
    "DCA1000Reader",
    "DCA1000Layout",
    "write_dca1000",
    # TI UART / TLV
    "MAGIC_WORD",
    "TLVType",
    "TLVFrame",
    "TLVReader",
    "SkippedBytes",
    "parse_tlv_stream",
    "read_tlv_file",
    "write_tlv_frame",
    "stack_point_clouds",
    # RadHAR text
    "RADHAR_COLUMNS",
    "RadHARRecording",
    "parse_radhar_text",
    "read_radhar_text",
    "format_radhar_text",
    "write_radhar_text",
    # OpenRadar
    "OpenRadarChirpConfig",
    "OPENRADAR_CHIRP_CONFIG",
    "OPENRADAR_FILES",
    "to_signed_int16",
    "load_openradar_sample",
    "load_openradar_samples",
    "save_openradar_sample",
    "from_signed_int16",
    "virtual_to_adc_cube",
]
