# Makes the two-step in-toto layout of Rampart's tests and demo (ITE-2:
# developer writes src/, packager tars it into foo-1.0.tar.gz) with the
# python in_toto library, and signs it.
#
#   python3 layout.py SIGNER_KEY SIGNER_TYPE DEVELOPER.pub PACKAGER.pub OUT EXPIRES yes|no
#
# EXPIRES is an RFC 3339 UTC time; "yes" adds the inspection "untar".
import sys
from securesystemslib import interface
from in_toto.models.layout import Layout, Step, Inspection
from in_toto.models.metadata import Metablock
signer, signer_type, dev, pkg, out, expires, inspect = sys.argv[1:8]
devk = interface.import_publickeys_from_file([dev], ["ed25519"])
pkgk = interface.import_rsa_publickey_from_file(pkg)
layout = Layout()
layout.expires = expires
layout.keys = dict(devk)
layout.keys[pkgk["keyid"]] = pkgk
developer = Step(name="developer")
developer.pubkeys = list(devk.keys())
developer.threshold = 1
developer.expected_materials = [["DISALLOW", "*"]]
developer.expected_products = [["CREATE", "src/*"], ["DISALLOW", "*"]]
packager = Step(name="packager")
packager.pubkeys = [pkgk["keyid"]]
packager.threshold = 1
packager.set_expected_command_from_string("tar czf foo-1.0.tar.gz src")
packager.expected_materials = [["MATCH", "src/*", "WITH", "PRODUCTS", "FROM", "developer"], ["DISALLOW", "*"]]
packager.expected_products = [["CREATE", "foo-1.0.tar.gz"], ["MATCH", "src/*", "WITH", "PRODUCTS", "FROM", "developer"], ["DISALLOW", "*"]]
layout.steps = [developer, packager]
if inspect == "yes":
    untar = Inspection(name="untar")
    untar.set_run_from_string("tar xzf foo-1.0.tar.gz")
    untar.expected_materials = [["MATCH", "foo-1.0.tar.gz", "WITH", "PRODUCTS", "FROM", "packager"], ["DISALLOW", "*"]]
    untar.expected_products = [["MATCH", "src/*", "WITH", "PRODUCTS", "FROM", "developer"], ["ALLOW", "foo-1.0.tar.gz"], ["DISALLOW", "*"]]
    layout.inspect = [untar]
mb = Metablock(signed=layout)
mb.sign(interface.import_privatekey_from_file(signer, key_type=signer_type))
mb.dump(out)
