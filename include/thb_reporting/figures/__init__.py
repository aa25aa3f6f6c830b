"""The indicator catalogue (indicators.yaml: what every output needs of an indicator), the indicators computed
from accepted rows, what a figure covers, and disclosure control (what may be published). Pure: no database,
no files.
May import: core."""
