#!/usr/bin/env bash
# scripts/install-validators.sh - the NuGet nuspec XML Schema that the
# Chocolatey tests validate generated .nuspec files against with xmllint.
# Safe to run any number of times.
#
# The schema is a resource inside NuGet.Core.dll of Debian's
# libnuget-core-cil. Installing that package pulls in about fifty Mono
# packages, so when it is not installed this script only downloads its .deb
# with `apt-get download` (no root needed once the package lists exist) and
# unpacks the DLL from it; an installed /usr/lib/nuget/NuGet.Core.dll is
# used as it is. The schema's bytes are then cut out of the DLL, its `{0}`
# namespace placeholder filled with the 2015/06 nuspec namespace (the one
# matrix writes), and the result is written to
#
#   ${MATRIX_TOOLS:-~/.cache/matrix-tools}/nuspec.xsd
#
# One addition, marked in the file: NuGet.Core 2.8.7 predates the
# <license> element (NuGet 4.9), so this script adds it to <metadata> as
# NuGet.Client's nuspec.xsd defines it (text content, a required `type`,
# an optional `version`), with `type` limited to `expression` and `file`,
# the two values NuGet's pack accepts. Chocolatey's own elements
# (packageSourceUrl, projectSourceUrl, docsUrl, bugTrackerUrl, ...) are not
# in the schema: the tests remove them before validating.
#
# Needs apt-get, dpkg-deb, python3 and xmllint (libxml2-utils). Exits 1 when
# the schema cannot be made, saying what is missing.
set -euo pipefail

LOG_PREFIX=validators
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly NAMESPACE=http://schemas.microsoft.com/packaging/2015/06/nuspec.xsd
readonly INSTALLED_DLL=/usr/lib/nuget/NuGet.Core.dll

tools=${MATRIX_TOOLS:-$HOME/.cache/matrix-tools}
target=$tools/nuspec.xsd

need() { # need COMMAND PACKAGE
	if ! command -v "$1" >/dev/null 2>&1; then
		err "$1 is missing: apt-get install -y $2"
		exit 1
	fi
}

# A schema made by this script names the license element; anything else
# (an older run, a partial file) is made again.
if [[ -s $target ]] && grep -q 'name="license"' "$target" && xmllint --noout "$target" 2>/dev/null; then
	say "nuspec schema present: $target"
	exit 0
fi

need python3 python3
need xmllint libxml2-utils

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -f $INSTALLED_DLL ]]; then
	dll=$INSTALLED_DLL
	say "using the installed $dll"
else
	need apt-get apt
	need dpkg-deb dpkg
	say "downloading libnuget-core-cil's .deb (not installing it: it needs Mono)"
	if ! (cd "$work" && apt-get download libnuget-core-cil >/dev/null 2>&1); then
		if [[ $EUID -eq 0 ]]; then
			say "the package lists may be missing or stale; running apt-get update"
			apt-get update -qq
		fi
		(cd "$work" && apt-get download libnuget-core-cil) || {
			err "apt-get download libnuget-core-cil failed; run apt-get update (as root) and try again"
			exit 1
		}
	fi
	dpkg-deb -x "$work"/libnuget-core-cil_*.deb "$work/root"
	dll=$work/root$INSTALLED_DLL
	[[ -f $dll ]] || {
		err "the libnuget-core-cil package holds no ${INSTALLED_DLL#/}"
		exit 1
	}
fi

mkdir -p "$tools"
python3 - "$dll" "$NAMESPACE" "$work/nuspec.xsd" <<'PY'
"""Cut the nuspec schema out of NuGet.Core.dll and fill in its namespace."""
import sys

dll, namespace, out = sys.argv[1:4]
data = open(dll, "rb").read()
start = data.find(b'<xs:schema id="nuspec"')
if start < 0:
    sys.exit(f"{dll}: no nuspec schema inside")
# The resource starts with an XML declaration just before the schema.
declaration = data.rfind(b"<?xml", max(0, start - 200), start)
if declaration >= 0:
    start = declaration
end = data.find(b"</xs:schema>", start)
if end < 0:
    sys.exit(f"{dll}: the nuspec schema has no end")
text = data[start : end + len(b"</xs:schema>")].decode("utf-8")
if "{0}" not in text:
    sys.exit(f"{dll}: the schema has no {{0}} namespace placeholder")
text = text.replace("{0}", namespace).replace("\r\n", "\n")

anchor = '<xs:element name="licenseUrl" maxOccurs="1" minOccurs="0" type="xs:anyURI" />'
if anchor not in text:
    sys.exit(f"{dll}: no licenseUrl element to put <license> beside")
indent = " " * 28
license = f"""{anchor}
{indent}<!-- Added by matrix's scripts/install-validators.sh: <license> (NuGet 4.9)
{indent}     is newer than this schema; defined as in NuGet.Client's nuspec.xsd,
{indent}     with type limited to what NuGet's pack accepts. -->
{indent}<xs:element name="license" maxOccurs="1" minOccurs="0">
{indent}    <xs:complexType>
{indent}        <xs:simpleContent>
{indent}            <xs:extension base="xs:string">
{indent}                <xs:attribute name="type" use="required">
{indent}                    <xs:simpleType>
{indent}                        <xs:restriction base="xs:string">
{indent}                            <xs:enumeration value="expression" />
{indent}                            <xs:enumeration value="file" />
{indent}                        </xs:restriction>
{indent}                    </xs:simpleType>
{indent}                </xs:attribute>
{indent}                <xs:attribute name="version" type="xs:string" use="optional" />
{indent}            </xs:extension>
{indent}        </xs:simpleContent>
{indent}    </xs:complexType>
{indent}</xs:element>"""
text = text.replace(anchor, license, 1)
with open(out, "w", encoding="utf-8") as f:
    f.write(text + "\n")
PY

# A schema xmllint cannot load would make every validation fail.
xmllint --noout "$work/nuspec.xsd"
printf '<?xml version="1.0"?>\n<package xmlns="%s"><metadata><id>a</id><version>1.0.0</version><authors>a</authors><description>a</description><license type="expression">MIT</license></metadata></package>\n' \
	"$NAMESPACE" >"$work/probe.nuspec"
xmllint --noout --schema "$work/nuspec.xsd" "$work/probe.nuspec" 2>/dev/null || {
	err "the extracted schema refuses a minimal nuspec"
	exit 1
}
mv -f "$work/nuspec.xsd" "$target.tmp.$$"
mv -f "$target.tmp.$$" "$target"
say "nuspec schema written: $target"
