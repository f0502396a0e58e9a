#!/usr/bin/python3
"""Write mdevmig's man pages from the programs' own --help.

The settings tables in collector/config.c and plugin/sched/config.c are
the one source of truth: common/settings.c prints --help from them, and
this script turns that text into roff, so a page cannot document a key
the program lacks or miss one it has. Nothing here repeats an option,
a key or a default; only what --help cannot say is in PAGES below (the
one-line summary, FILES, SEE ALSO).

    mkman.py PAGE --exe PROGRAM --version VERSION --datadir DIR --out FILE

PAGE is one of PAGES (mdevmig-collector.8, mdevmig-collector.conf.5,
mdevmig-sched.8, mdevmig-sched.conf.5, mdevmig.1). The date comes from
SOURCE_DATE_EPOCH when set (Debian builds set it), so a page is
reproducible. A --help this script cannot read (its settings block
changed shape, a program failed) is an error, never an empty page.

How --help text maps to roff: the "Usage:" line is SYNOPSIS, what comes
before the first heading DESCRIPTION; a line ending in ':' (not inside a
paragraph) or in capitals alone starts a section; an indented block whose
lines form two columns (a tag, then a description at one column) becomes
a tagged list, any other indented block is kept verbatim.
"""

import argparse
import datetime
import os
import re
import subprocess
import sys

SETTINGS_HEADING = "Settings (flag, then config key = default):"

PAGES = {
    "mdevmig-collector.8": {
        "kind": "program",
        "program": "mdevmig-collector",
        "summary": "inventory a host's mediated devices and answer migration write-probes",
        "files": [
            ("/etc/mdevmig/collector.conf",
             "the configuration the packaged unit passes with --config "
             "(mdevmig-collector.conf(5))"),
            ("/etc/mdevmig/token", "the cluster bearer token (token_file)"),
            ("{datadir}/mdevmig/collector.conf.example",
             "every key, commented out at its default"),
            ("/var/lib/mdevmig/", "the audit database (audit_db) and sqlite: registry targets"),
        ],
        "see_also": ["mdevmig-collector.conf(5)", "mdevmig-sched(8)", "mdevmig(1)",
                     "mdevctl(8)", "systemd.service(5)"],
    },
    "mdevmig-collector.conf.5": {
        "kind": "config",
        "program": "mdevmig-collector",
        "program_section": 8,
        "path": "/etc/mdevmig/collector.conf",
        "example": "collector.conf.example",
        "see_also": ["mdevmig-collector(8)", "mdevmig-sched.conf(5)"],
    },
    "mdevmig-sched.8": {
        "kind": "program",
        "program": "mdevmig-sched",
        "summary": "answer which hosts can take a VM's mediated devices, confirmed by live write-probes",
        "files": [
            ("/etc/mdevmig/sched.conf",
             "the configuration the packaged unit passes with --config "
             "(mdevmig-sched.conf(5))"),
            ("/etc/mdevmig/token",
             "the cluster bearer token; the packaged unit hands it over with LoadCredential="),
            ("/var/lib/mdevmig-sched/registry.db",
             "the registry, as the packaged unit sets it with --registry"),
            ("{datadir}/mdevmig/sched.conf.example",
             "every key, commented out at its default"),
        ],
        "see_also": ["mdevmig-sched.conf(5)", "mdevmig-collector(8)", "mdevmig(1)",
                     "systemd.service(5)"],
    },
    "mdevmig-sched.conf.5": {
        "kind": "config",
        "program": "mdevmig-sched",
        "program_section": 8,
        "path": "/etc/mdevmig/sched.conf",
        "example": "sched.conf.example",
        "see_also": ["mdevmig-sched(8)", "mdevmig-collector.conf(5)"],
    },
    "mdevmig.1": {
        "kind": "program",
        "program": "mdevmig",
        "summary": "ask which hosts can take a VM's mediated devices by live migration",
        # Each command's own help, from `mdevmig help COMMAND`, up to the
        # part every command repeats (the global options).
        "commands_from": "help",
        "command_help_ends": "Where the answers come from",
        "files": [],
        "see_also": ["mdevmig-sched(8)", "mdevmig-collector(8)"],
    },
}


class HelpError(Exception):
    pass


# --- roff output -----------------------------------------------------------

def esc(text):
    """Escape text for roff: backslashes, hyphens (so options stay
    ASCII hyphen-minus when copied) and a leading control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = "".join(c if ord(c) < 128 else "\\[u%04X]" % ord(c) for c in text)
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def quoted(text):
    """A macro argument: escaped, in double quotes."""
    return '"' + esc(text).replace('"', '\\(dq') + '"'


def option_tag(tag):
    """Flags bold, their arguments italic: --host NAME, -h."""
    words = []
    for word in tag.split(" "):
        trail = "," if word.endswith(",") else ""
        core = word[:-1] if trail else word
        font = "B" if core.startswith("-") else "I"
        words.append("\\f%s%s\\fR%s" % (font, esc(core), trail))
    return " ".join(words)


def tag_markup(tag):
    if tag.startswith("-"):
        return option_tag(tag)
    return "\\fB%s\\fR" % esc(tag)


class Roff:
    def __init__(self):
        self.lines = []

    def macro(self, name, *args):
        self.lines.append("." + name + "".join(" " + a for a in args))

    def text(self, lines):
        for line in lines:
            self.lines.append(esc(line.strip()))

    def raw(self, line):
        self.lines.append(line)

    def verbatim(self, lines):
        """Lines kept as they are, their common indentation removed."""
        strip = min(indent_of(l) for l in lines if l.strip())
        self.macro("nf")
        for line in lines:
            self.lines.append(esc(line[strip:]) if line.strip() else "")
        self.macro("fi")

    def __str__(self):
        return "\n".join(self.lines) + "\n"


# --- reading --help --------------------------------------------------------

def indent_of(line):
    return len(line) - len(line.lstrip(" "))


def parse_blocks(text):
    """Split help text into ('heading', str), ('section', str) and
    ('para', [lines]) items."""
    items = []
    para = []
    prev = ""
    for line in text.splitlines():
        line = line.rstrip()
        top = line and not line.startswith(" ")
        starts_fresh = not prev.strip() or prev.startswith(" ")
        if top and line.endswith(":") and starts_fresh:
            if para:
                items.append(("para", para))
                para = []
            items.append(("heading", line[:-1]))
        elif top and re.fullmatch(r"[A-Z][A-Z ]+", line) and starts_fresh:
            if para:
                items.append(("para", para))
                para = []
            items.append(("section", line))
        elif not line:
            if para:
                items.append(("para", para))
                para = []
        else:
            para.append(line)
        prev = line
    if para:
        items.append(("para", para))
    return items


def two_columns(lines):
    """An indented block as [(tag, [description lines])], or None when it
    is not a tagged list (then it is shown verbatim). Entries start at
    column 2; every description starts at one column, continuation lines
    are indented at least that far."""
    if any(indent_of(l) < 2 for l in lines):
        return None
    cols = set()
    for line in lines:
        m = re.match(r"^  (\S+(?: \S+)*)( {2,})\S", line)
        if m:
            cols.add(2 + len(m.group(1)) + len(m.group(2)))
    if len(cols) != 1:
        return None
    col = cols.pop()
    entries = []
    for line in lines:
        if indent_of(line) == 2:
            # The tag ends two spaces before the column, or one when an
            # option fills it ("--url URL[,URL...] ask ...").
            gap = line[col - 2:col] == "  " or (line[col - 1] == " " and line[2] == "-")
            if len(line) > col and gap and line[col] != " " and line[2:col].strip():
                entries.append((line[2:col].strip(), [line[col:]]))
            else:
                entries.append((line.strip(), []))
        elif entries and indent_of(line) >= col:
            entries[-1][1].append(line[col:])
        else:
            return None
    if any(not desc for _, desc in entries):
        return None
    return entries


def emit_entries(roff, entries):
    for tag, desc in entries:
        roff.macro("TP")
        roff.raw(tag_markup(tag))
        chunk = []
        deeper = []
        for line in desc:
            if line.startswith(" "):
                deeper.append(line)
                continue
            if deeper:
                roff.text(chunk)
                chunk = []
                roff.verbatim(deeper)
                deeper = []
            chunk.append(line)
        roff.text(chunk)
        if deeper:
            roff.verbatim(deeper)


def emit_para(roff, lines):
    if indent_of(lines[0]) == 0:
        # Text, perhaps with a hanging indent ("--json: {...},\n  ...").
        roff.macro("PP")
        roff.text(lines)
        return
    # An indented block (an example, a list), perhaps followed by text
    # with no blank line between.
    n = next((i for i, l in enumerate(lines) if indent_of(l) == 0), len(lines))
    if n < len(lines):
        emit_para(roff, lines[:n])
        emit_para(roff, lines[n:])
        return
    roff.macro("PP")
    entries = two_columns(lines)
    if entries is not None:
        emit_entries(roff, entries)
        return
    roff.macro("RS", "4")
    roff.verbatim(lines)
    roff.macro("RE")


def parse_settings(lines):
    """common/settings.c's settings_usage():
         --FLAG METAVAR
               key = shown default
               help, wrapped
    as [{'flag', 'metavar', 'key', 'default', 'help': [lines]}]."""
    settings = []
    i = 0
    while i < len(lines):
        m = re.fullmatch(r"  --(\S+)(?: (.*))?", lines[i])
        if not m or i + 1 >= len(lines):
            raise HelpError("settings block: expected '  --FLAG METAVAR', got %r" % lines[i])
        k = re.fullmatch(r"      (\S+) = (.*)", lines[i + 1])
        if not k:
            raise HelpError("settings block: expected '      key = default' after --%s, got %r"
                            % (m.group(1), lines[i + 1]))
        item = {"flag": m.group(1), "metavar": (m.group(2) or "").strip(),
                "key": k.group(1), "default": k.group(2), "help": []}
        i += 2
        while i < len(lines) and lines[i].startswith("      "):
            item["help"].append(lines[i].strip())
            i += 1
        if not item["help"]:
            raise HelpError("settings block: --%s has no help" % item["flag"])
        settings.append(item)
    if not settings:
        raise HelpError("settings block is empty")
    return settings


def split_usage(items):
    """The leading usage paragraph as SYNOPSIS text, the rest."""
    if not items or items[0][0] != "para" or \
            not re.match(r"(?i)usage: ", items[0][1][0]):
        raise HelpError("--help does not start with a 'Usage:' line")
    first = items[0][1]
    synopsis = [re.sub(r"(?i)^usage: ", "", first[0])] + [l.strip() for l in first[1:]]
    return " ".join(synopsis), items[1:]


def heading_title(text):
    """'Global options (before or after the command)' ->
    'GLOBAL OPTIONS (before or after the command)'."""
    m = re.fullmatch(r"([^(]*?)\s*(\(.*\))?", text)
    label, paren = m.group(1), m.group(2)
    return label.upper() + (" " + paren if paren else "")


# --- pages -----------------------------------------------------------------

def run(exe, *args):
    env = dict(os.environ, LC_ALL="C")
    proc = subprocess.run([exe, *args], capture_output=True, encoding="utf-8",
                          errors="replace", env=env)
    if proc.returncode != 0:
        raise HelpError("%s %s exited %d: %s" % (exe, " ".join(args), proc.returncode,
                                                  proc.stderr.strip()))
    return proc.stdout


def page_date():
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch \
        else datetime.datetime.now(datetime.timezone.utc)
    return when.strftime("%Y-%m-%d")


def header(roff, name, section, version, manual):
    roff.raw('.\\" Generated by man/mkman.py from %s --help: edit the settings '
             'tables or the help text, not this file.' % name.split(".conf")[0])
    roff.macro("TH", quoted(name.upper()), str(section), quoted(page_date()),
               quoted("mdevmig " + version), quoted(manual))
    # Left-aligned, unhyphenated: option names and paths stay whole.
    roff.macro("ad", "l")
    roff.macro("nh")


def emit_help_items(roff, items, level, after_heading=None):
    """Help items as roff. level 1: headings are sections (.SH);
    level 2 (inside a command's .SS): bold lead-ins."""
    current = None
    for kind, value in items:
        if kind in ("heading", "section"):
            current = value
            if level == 2:
                roff.macro("PP")
                roff.raw("\\fB%s\\fR" % esc(value if kind == "section" else value + ":"))
            elif kind == "heading" and value == "Command-line only":
                roff.macro("SS", quoted("Command-line only"))
            elif kind == "heading" and value == "Exit codes":
                roff.macro("SH", quoted("EXIT STATUS"))
            else:
                roff.macro("SH", quoted(heading_title(value) if kind == "heading" else value))
            continue
        lines = value
        m = re.match(r"([A-Z][a-z]+): (.*)", lines[0])
        if level == 1 and m and all(indent_of(l) == 0 for l in lines):
            # "Output: on a terminal, ..." is a section of its own.
            roff.macro("SH", quoted(m.group(1).upper()))
            roff.macro("PP")
            roff.text([m.group(2)[:1].upper() + m.group(2)[1:]] + lines[1:])
        else:
            emit_para(roff, lines)
        if after_heading and current in after_heading:
            after_heading.pop(current)(roff)


def emit_settings_as_options(roff, settings, conf_page):
    roff.macro("SH", "OPTIONS")
    roff.macro("PP")
    roff.text(["Every setting is also a key of the configuration file, "
               "described in %s; a flag wins over the file." % conf_page])
    for s in settings:
        roff.macro("TP")
        roff.raw(option_tag(("--%s %s" % (s["flag"], s["metavar"])).strip()))
        roff.text(s["help"])
        roff.macro("br")
        roff.raw("Key \\fB%s\\fR, default: %s" % (esc(s["key"]), esc(s["default"])))


def emit_files(roff, files, datadir):
    if not files:
        return
    roff.macro("SH", "FILES")
    for path, what in files:
        roff.macro("TP")
        roff.raw("\\fI%s\\fR" % esc(path.format(datadir=datadir)))
        roff.text([what])


def emit_see_also(roff, refs):
    roff.macro("SH", quoted("SEE ALSO"))
    roff.raw(",\n".join("\\fB%s\\fR(%s)" % (esc(r.split("(")[0]), r.split("(")[1].rstrip(")"))
                        for r in refs))


def program_page(page, spec, args):
    name, section = page.rsplit(".", 1)
    items = parse_blocks(run(args.exe, "--help"))
    synopsis, items = split_usage(items)
    roff = Roff()
    header(roff, name, section, args.version,
           "System Administration" if section == "8" else "User Commands")
    roff.macro("SH", "NAME")
    roff.raw("%s \\- %s" % (esc(name), esc(spec["summary"])))
    roff.macro("SH", "SYNOPSIS")
    roff.raw(synopsis_markup(synopsis))
    roff.macro("SH", "DESCRIPTION")

    after = {}
    if "commands_from" in spec:
        after["Commands"] = lambda r: emit_commands(r, spec, args, items)
    rest = []
    for i, (kind, value) in enumerate(items):
        if kind == "heading" and value + ":" == SETTINGS_HEADING:
            if i + 1 >= len(items) or items[i + 1][0] != "para":
                raise HelpError("no settings after %r" % SETTINGS_HEADING)
            emit_help_items(roff, rest, 1, after)
            rest = []
            settings = parse_settings(items[i + 1][1])
            emit_settings_as_options(roff, settings, "%s.conf(5)" % name)
            items = items[i + 2:]
            break
        rest.append((kind, value))
    else:
        items = rest
    emit_help_items(roff, items, 1, after)
    if after:
        raise HelpError("--help has no %s section" % ", ".join(after))
    emit_files(roff, spec["files"], args.datadir)
    emit_see_also(roff, spec["see_also"])
    return str(roff)


def synopsis_markup(synopsis):
    """The program name bold, the rest as --help gives it."""
    prog, _, rest = synopsis.partition(" ")
    return "\\fB%s\\fR %s" % (esc(prog), esc(rest))


def emit_commands(roff, spec, args, main_items):
    """Each command's own help as a subsection, from `PROGRAM help CMD`."""
    commands = None
    for i, (kind, value) in enumerate(main_items):
        if kind == "heading" and value == "Commands":
            entries = two_columns(main_items[i + 1][1])
            if entries is None:
                raise HelpError("the Commands block is not a list")
            commands = [tag for tag, _ in entries if tag != spec["commands_from"]]
    if not commands:
        raise HelpError("no commands listed under 'Commands:'")
    for command in commands:
        text = run(args.exe, spec["commands_from"], command)
        end = text.find("\n" + spec["command_help_ends"])
        if end < 0:
            raise HelpError("`help %s` has no %r part" % (command, spec["command_help_ends"]))
        synopsis, items = split_usage(parse_blocks(text[:end]))
        roff.macro("SS", quoted("%s %s" % (spec["program"], command)))
        roff.raw(synopsis_markup(synopsis))
        emit_help_items(roff, items, 2)


def config_page(page, spec, args):
    name, section = page.rsplit(".", 1)
    program = spec["program"]
    items = parse_blocks(run(args.exe, "--help"))
    _, items = split_usage(items)

    settings = None
    intro = []
    fmt = None
    signals = None
    for i, (kind, value) in enumerate(items):
        nxt = items[i + 1:]
        if kind == "heading" and value + ":" == SETTINGS_HEADING:
            settings = parse_settings(nxt[0][1])
        elif kind == "heading" and value.startswith("Config file format"):
            fmt = (value, take_section(nxt))
        elif kind == "section" and value == "SIGNALS":
            signals = take_section(nxt)
        elif kind == "para" and settings is None and fmt is None \
                and "config file" in " ".join(value):
            intro.append(value)
    if settings is None or fmt is None:
        raise HelpError("%s --help lacks the settings or the config file format" % program)

    roff = Roff()
    header(roff, name, section, args.version, "File Formats")
    roff.macro("SH", "NAME")
    roff.raw("%s \\- configuration file of %s" % (esc(name), esc(program)))
    roff.macro("SH", "SYNOPSIS")
    roff.raw("\\fI%s\\fR" % esc(spec["path"]))
    roff.macro("SH", "DESCRIPTION")
    roff.macro("PP")
    roff.raw("\\fB%s\\fR reads its settings from the file given with "
             "\\fB\\-\\-config\\fR; the packaged systemd unit gives \\fI%s\\fR." %
             (esc(program), esc(spec["path"])))
    for lines in intro:
        emit_para(roff, lines)
    paren = re.search(r"\((.*)\)", fmt[0])
    if paren:
        roff.macro("PP")
        roff.text([paren.group(1)[:1].upper() + paren.group(1)[1:] + "."])
    for kind, value in fmt[1]:
        emit_para(roff, value)

    roff.macro("SH", "SETTINGS")
    for s in settings:
        roff.macro("TP")
        roff.raw("\\fB%s\\fR = %s" % (esc(s["key"]), esc(s["default"])))
        roff.text(s["help"])
        roff.macro("br")
        roff.raw("Flag: %s" % option_tag(("--%s %s" % (s["flag"], s["metavar"])).strip()))
    if signals:
        roff.macro("SH", "SIGNALS")
        for kind, value in signals:
            emit_para(roff, value)
    emit_files(roff, [(spec["path"], "read by the packaged unit"),
                      ("{datadir}/mdevmig/" + spec["example"],
                       "every key, commented out at its default")], args.datadir)
    emit_see_also(roff, spec["see_also"])
    return str(roff)


def take_section(items):
    """The paragraphs up to the next heading or section."""
    out = []
    for kind, value in items:
        if kind != "para":
            break
        out.append((kind, value))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("page", choices=sorted(PAGES))
    ap.add_argument("--exe", required=True, help="the built program whose --help is read")
    ap.add_argument("--version", required=True, help="mdevmig's version (cmake PROJECT_VERSION)")
    ap.add_argument("--datadir", default="/usr/share", help="where the example configs go")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    spec = PAGES[args.page]
    try:
        text = (program_page if spec["kind"] == "program" else config_page)(args.page, spec, args)
    except HelpError as e:
        print("mkman.py: %s: %s" % (args.page, e), file=sys.stderr)
        return 1
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
