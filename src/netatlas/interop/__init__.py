"""interop: reading the field's formats into observations, and writing them back out.

Importers (one module per producer): nmap XML, masscan (-oJ, -oD, -oL, -oX), ZGrab2,
httpx, Shodan banners and netatlas's own JSON lines; ``sniff`` names a format from an
input's first bytes. Writers: nmap XML, Shodan ``json.gz`` and an InternetDB-style
per-IP SQLite file. Nothing here touches the network.
"""

from ._common import InputError, Skip
from .importer import FileReport, import_file
from .sniff import FORMATS, Detected, sniff

__all__ = ["FORMATS", "Detected", "FileReport", "InputError", "Skip", "import_file", "sniff"]
