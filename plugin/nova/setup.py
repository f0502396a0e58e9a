"""setuptools entry for the Nova filter package; the metadata is in
setup.cfg. Kept as a setup.py so Debian 12's pybuild (its default
distutils plugin) and `python3 setup.py egg_info` both work with Debian's
python3-setuptools, without a PEP 517 build front end."""

import setuptools

setuptools.setup()
