#!/usr/bin/env bats
# Packaging: make install / uninstall, the man pages (lint, and drift
# against src/help.c), the systemd user unit and its wrapper, make dist, and
# the Debian package.  docs/install.md describes what is tested here.
#
# The .deb is built once per run, by the first deb test (about half a
# minute); packaging/install-deb-deps.sh installs the tools it needs first.

load helpers

# The make calls below are not sub-makes of the make that runs the tests:
# its flags and command-line variables (B=, PREFIX=, -j) must not leak in.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

VERSION=$(cat "$MDECK_TOP/VERSION")
DEB_B=$MDECK_TOP/build/e2e-tmp/packaging-deb
WRAPPER=$MDECK_TOP/packaging/systemd/mdeck-watch-user
UNIT=$MDECK_TOP/packaging/systemd/mdeck.service

setup_file() {
    # a fresh package each run; built by the first deb test (build_deb)
    rm -rf "$DEB_B"
}

setup() {
    make_scratch
    PIDS=
    # sockets and XDG_RUNTIME_DIR need short paths (108 bytes at most)
    SHORT=$(mktemp -d /tmp/mdeck-pkg.XXXXXX)
    chmod 700 "$SHORT"
}

teardown() {
    local p
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$SHORT"
    drop_scratch
}

# --- helpers ----------------------------------------------------------------

# The files `make install PREFIX=/usr` installs, sorted, relative to DESTDIR.
expected_files() {
    {
        printf '%s\n' \
            usr/bin/mdeck \
            usr/lib/systemd/user/mdeck.service \
            usr/libexec/mdeck/mdeck-watch-user \
            usr/share/bash-completion/completions/mdeck \
            usr/share/doc/mdeck/README.md \
            usr/share/man/man1/mdeck.1 \
            usr/share/man/man5/mdeck-format.5 \
            usr/share/zsh/vendor-completions/_mdeck
        (cd "$MDECK_TOP" && for f in docs/*.md; do echo "usr/share/doc/mdeck/$f"; done)
    } | LC_ALL=C sort
}

files_under() { (cd "$1" && find . -type f -o -type l) | sed 's|^\./||' | LC_ALL=C sort; }

# A fake mdeck that prints its pid, then its arguments one per line.
fake_mdeck() {
    mkdir -p "$(dirname "$1")"
    cat >"$1" <<'SH'
#!/bin/sh
echo "pid $$"
for a in "$@"; do printf '%s\n' "$a"; done
SH
    chmod +x "$1"
}

# build_deb: the first call installs the tools (packaging/install-deb-deps.sh)
# and runs `make deb` into $DEB_B; later calls find the result there.
build_deb() {
    [ ! -f "$DEB_B/done" ] || return 0
    mkdir -p "$DEB_B"
    if ! sh "$MDECK_TOP/packaging/install-deb-deps.sh" >"$DEB_B/deps.log" 2>&1; then
        if ! command -v apt-get >/dev/null 2>&1; then
            echo "apt-get is not available: cannot install dpkg-dev, debhelper, lintian" >"$DEB_B/skip"
        else
            echo "packaging/install-deb-deps.sh failed" >"$DEB_B/failed"
        fi
    # The unit tests are not run inside the package build (nocheck): the
    # main test run runs them.  B= keeps this build apart from build/deb.
    elif ! DEB_BUILD_OPTIONS=nocheck DEB_BUILD_PROFILES=nocheck \
        make -C "$MDECK_TOP" --no-print-directory deb B="$DEB_B" >"$DEB_B/build.log" 2>&1 </dev/null; then
        echo "make deb failed" >"$DEB_B/failed"
    fi
    touch "$DEB_B/done"
}

# The ASan pass of `make test` (MDECK_BUILD=build/asan) runs this file
# again; the tarball and the package do not depend on the build under test,
# so only the main pass makes and checks them.
main_pass_only() {
    [ "${MDECK_BUILD:-build}" = build ] ||
        skip "MDECK_BUILD=$MDECK_BUILD: the tarball and the package are checked by the main pass"
}

deb_ready() {
    main_pass_only
    build_deb
    [ ! -f "$DEB_B/skip" ] || skip "$(cat "$DEB_B/skip")"
    if [ -f "$DEB_B/failed" ]; then
        cat "$DEB_B/failed" "$DEB_B/deps.log"
        tail -n 60 "$DEB_B/build.log" 2>/dev/null
        return 1
    fi
    DEB=$(ls "$DEB_B"/mdeck_"$VERSION"-1_*.deb)
    [ -f "$DEB" ]
}

# wait_for CMD...: every 50 ms, at most 20 s.
wait_for() {
    local i=0
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -lt 400 ] || { echo "timed out waiting for: $*"; return 1; }
        sleep 0.05
    done
}

# --- make install / uninstall -----------------------------------------------

@test "make install DESTDIR PREFIX=/usr installs exactly the expected files; uninstall removes them" {
    local root=$SCRATCH/root
    run make -C "$MDECK_TOP" --no-print-directory install DESTDIR="$root" PREFIX=/usr
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    diff -u <(expected_files) <(files_under "$root")
    [ -x "$root/usr/bin/mdeck" ]
    [ -x "$root/usr/libexec/mdeck/mdeck-watch-user" ]
    [ "$(stat -c %a "$root/usr/lib/systemd/user/mdeck.service")" = 644 ]
    [ "$(stat -c %a "$root/usr/share/man/man1/mdeck.1")" = 644 ]
    # the version, defined once in VERSION
    [ "$("$root/usr/bin/mdeck" --version)" = "mdeck $VERSION" ]
    grep -q "^\.TH MDECK 1 .*\"mdeck $VERSION\"" "$root/usr/share/man/man1/mdeck.1"
    grep -q "^\.TH MDECK-FORMAT 5 .*\"mdeck $VERSION\"" "$root/usr/share/man/man5/mdeck-format.5"
    ! grep -rq '@[A-Z][A-Z]*@' "$root/usr/share/man" "$root/usr/lib" "$root/usr/libexec" || false
    # paths filled in for this PREFIX (not DESTDIR)
    grep -qx 'ExecStart=/usr/libexec/mdeck/mdeck-watch-user' "$root/usr/lib/systemd/user/mdeck.service"
    grep -qx "bindir='/usr/bin'" "$root/usr/libexec/mdeck/mdeck-watch-user"

    run make -C "$MDECK_TOP" --no-print-directory uninstall DESTDIR="$root" PREFIX=/usr
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ -z "$(files_under "$root")" ]
    [ ! -e "$root/usr/libexec/mdeck" ]
    [ ! -e "$root/usr/share/doc/mdeck" ]
}

@test "make install: PREFIX defaults to /usr/local" {
    run make -C "$MDECK_TOP" --no-print-directory install DESTDIR="$SCRATCH/root"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    diff -u <(expected_files | sed 's|^usr/|usr/local/|') <(files_under "$SCRATCH/root")
    grep -qx 'ExecStart=/usr/local/libexec/mdeck/mdeck-watch-user' \
        "$SCRATCH/root/usr/local/lib/systemd/user/mdeck.service"
}

# --- man pages --------------------------------------------------------------

@test "man pages: groff -ww, mandoc -Tlint and man --warnings report nothing" {
    run make -C "$MDECK_TOP" --no-print-directory man
    [ "$status" -eq 0 ]
    local p err
    for p in "$MDECK_TOP/build/man/mdeck.1" "$MDECK_TOP/build/man/mdeck-format.5"; do
        err=$(groff -man -Tutf8 -ww -z "$p" 2>&1)
        [ -z "$err" ] || { echo "groff $p: $err"; false; }
        err=$(groff -man -Tascii -ww -z "$p" 2>&1)
        [ -z "$err" ] || { echo "groff -Tascii $p: $err"; false; }
        if command -v mandoc >/dev/null; then
            err=$(mandoc -Tlint -Wall "$p" 2>&1)
            [ -z "$err" ] || { echo "mandoc $p: $err"; false; }
        fi
        # as lintian runs it, then in the C locale (ASCII output)
        err=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$p" 2>&1 >/dev/null)
        [ -z "$err" ] || { echo "man $p: $err"; false; }
        err=$(LC_ALL=C MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
        [ -z "$err" ] || { echo "man (C locale) $p: $err"; false; }
    done
    command -v mandoc >/dev/null || echo "# mandoc is not installed: mandoc -Tlint not run" >&3
}

@test "man pages: man -l renders them, with the version" {
    run make -C "$MDECK_TOP" --no-print-directory man
    [ "$status" -eq 0 ] # else the pages below could be an earlier make's
    run env LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$MDECK_TOP/build/man/mdeck.1"
    [ "$status" -eq 0 ]
    [[ "$output" == *"mdeck - turn markdown question indexes"* ]]
    [[ "$output" == *"EXIT STATUS"* ]]
    [[ "$output" == *"mdeck $VERSION"* ]]
    run env LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$MDECK_TOP/build/man/mdeck-format.5"
    [ "$status" -eq 0 ]
    [[ "$output" == *"mdeck-format - the markdown source format"* ]]
    [[ "$output" == *"mdeck $VERSION"* ]]
}

# help_options: "COMMAND --option" for every long option in src/help.c's
# text of COMMAND ("-" for the overview).
help_options() {
    awk '/^    \{NULL,/ { c = "-" }
         /^    \{"[a-z]+",/ { match($0, /"[a-z]+"/); c = substr($0, RSTART + 1, RLENGTH - 2) }
         c != "" { while (match($0, /--[a-z][a-z-]*[a-z]/)) {
                       print c, substr($0, RSTART, RLENGTH); $0 = substr($0, RSTART + RLENGTH) } }' \
        "$MDECK_TOP/src/help.c" | sort -u
}

# man_section PAGE START: the roff lines from the line matching START to the
# next .SS/.SH, with \- written -.
man_section() {
    sed 's/\\-/-/g' "$1" | awk -v start="$2" '
        found && /^\.S[HS] / { exit }
        index($0, start) == 1 { found = 1 }
        found'
}

@test "mdeck.1 documents every command and its long options (from src/help.c), and every exit code" {
    local help=$MDECK_TOP/src/help.c page=$MDECK_TOP/man/mdeck.1 missing= c o
    local cmds
    cmds=$( { sed -n 's/^ *"  \([a-z][a-z]*\)  .*/\1/p' "$help"
              grep -o 'usage: mdeck [a-z][a-z]*' "$help" | awk '{print $3}'; } | sort -u)
    [ "$(echo "$cmds" | wc -l)" -ge 5 ]
    for c in $cmds; do
        [ -n "$(man_section "$page" ".SS \"mdeck $c")" ] || missing="$missing command:$c"
    done
    [ "$(help_options | wc -l)" -ge 15 ]
    while read -r c o; do
        if [ "$c" = - ]; then
            man_section "$page" '.SH OPTIONS' | grep -qF -- "$o" || missing="$missing $o"
        else
            man_section "$page" ".SS \"mdeck $c" | grep -qF -- "$o" || missing="$missing $c:$o"
        fi
    done < <(help_options)
    for c in $(sed -n 's/^#define EXIT_[A-Z]* *\([0-9]\).*/\1/p' "$MDECK_TOP/src/cmds.h"); do
        man_section "$page" '.SH EXIT STATUS' | grep -qx "\.B $c" || missing="$missing exit:$c"
    done
    [ -z "$missing" ] || { echo "missing from mdeck.1:$missing"; false; }
}

@test "mdeck-format.5 documents every front matter key (from src/frontmatter.c)" {
    local keys k missing=
    # as the "unknown front matter key" warning lists them
    keys=$(grep -o 'known: [a-z, ]*' "$MDECK_TOP/src/frontmatter.c" | head -1 | sed 's/known: //; s/,//g')
    [ -n "$keys" ]
    for k in $keys; do
        man_section "$MDECK_TOP/man/mdeck-format.5" '.SH FRONT MATTER' | grep -qx "\.B $k" ||
            missing="$missing $k"
    done
    [ -z "$missing" ] || { echo "missing from mdeck-format.5:$missing"; false; }
}

@test "completions: bash completes commands, each command's long options (from src/help.c), formats, folders" {
    mkdir -p "$SCRATCH/w/deck one" "$SCRATCH/w/d2"
    touch "$SCRATCH/w/x.apkg" "$SCRATCH/w/y.txt"
    cd "$SCRATCH/w"
    # comp WORDS...: what completing the last word offers, one per line
    comp() {
        bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
                 _mdeck; printf "%s\n" "${COMPREPLY[@]}"' \
            _ "$MDECK_TOP/completions/mdeck.bash" "$@"
    }
    [ "$(comp mdeck '' | sort | tr '\n' ' ')" = "build check help inspect watch " ]
    local c o missing=
    while read -r c o; do
        if [ "$c" = - ]; then
            comp mdeck -- | grep -qx -- "$o" || missing="$missing $o"
        else
            comp mdeck "$c" -- | grep -qx -- "$o" || missing="$missing $c:$o"
        fi
    done < <(help_options)
    [ -z "$missing" ] || { echo "missing from completions/mdeck.bash:$missing"; false; }
    [ "$(comp mdeck build -f apkg,q)" = apkg,quizlet ]
    [ "$(comp mdeck watch --format c)" = csv ]
    [ "$(comp mdeck build -o '' | sort | tr '\n' '|')" = "d2|deck one|" ]
    [ "$(comp mdeck check de)" = "deck one" ]
    [ "$(comp mdeck inspect '' | sort | tr '\n' '|')" = "d2|deck one|x.apkg|" ]
    [ "$(comp mdeck help w)" = watch ]
}

@test "completions: zsh's _mdeck parses and names every long option of src/help.c (skipped without zsh)" {
    local c o missing=
    while read -r c o; do
        grep -qF -- "$o" "$MDECK_TOP/completions/_mdeck" || missing="$missing $c:$o"
    done < <(help_options)
    [ -z "$missing" ] || { echo "missing from completions/_mdeck:$missing"; false; }
    command -v zsh >/dev/null || skip "zsh is not installed: options checked by grep only"
    zsh -n "$MDECK_TOP/completions/_mdeck"
}

# --- systemd user unit ------------------------------------------------------

@test "systemd unit: its keys (checked by grep, which works without systemd)" {
    local u=$UNIT
    grep -qx 'Type=notify' "$u"
    grep -qx 'NotifyAccess=main' "$u"
    grep -qx 'ExecStart=@LIBEXECDIR@/mdeck/mdeck-watch-user' "$u"
    grep -qx 'Restart=on-failure' "$u"
    grep -qx 'RestartPreventExitStatus=2' "$u"
    grep -qx 'WantedBy=default.target' "$u"
    grep -q '^Documentation=man:mdeck(1)' "$u"
    # no KillSignal/SuccessExitStatus games: SIGTERM, and mdeck exits 0
    ! grep -q '^KillSignal=\|^SuccessExitStatus=' "$u" || false
    # sections and keys are well formed: [Section] or Key=value or comments
    ! grep -vE '^(#.*|\[(Unit|Service|Install)\]|[A-Za-z]+=.*|)$' "$u" || false
}

@test "systemd unit: systemd-analyze verify --user passes on the installed unit (skipped without systemd-analyze)" {
    command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed: the unit's keys are checked by grep only"
    local p=$SCRATCH/prefix
    run make -C "$MDECK_TOP" --no-print-directory install PREFIX="$p"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    # MANPATH: verify checks that the Documentation= pages exist
    run env XDG_RUNTIME_DIR="$SHORT" MANPATH="$p/share/man" \
        systemd-analyze verify --user "$p/lib/systemd/user/mdeck.service"
    echo "$output"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

# --- the wrapper ------------------------------------------------------------

@test "wrapper: execs mdeck watch -o OUT DECK... from the config file (comments, blanks, spaces, ~, CRLF)" {
    local home=$SCRATCH/home cfg=$SCRATCH/config
    mkdir -p "$home" "$cfg/mdeck"
    fake_mdeck "$SCRATCH/bin/mdeck"
    printf '%s\n' \
        '# decks for the mdeck user service' \
        '' \
        '   ' \
        '~/notes/ml' \
        '  /srv/notes/a deck with  spaces  ' \
        "notes/relative"$'\r' \
        '	# an indented comment' \
        'output = ~/Anki decks' \
        '~' >"$cfg/mdeck/decks"
    printf '/last/line/without/newline' >>"$cfg/mdeck/decks"
    HOME=$home XDG_CONFIG_HOME=$cfg PATH="$SCRATCH/bin:$PATH" \
        sh "$WRAPPER" >"$SCRATCH/out" 2>"$SCRATCH/err" 3>&- &
    local pid=$!
    wait "$pid"
    [ -s "$SCRATCH/err" ] && cat "$SCRATCH/err"
    # exec: mdeck has the wrapper's pid (it is the unit's main process)
    [ "$(head -1 "$SCRATCH/out")" = "pid $pid" ]
    diff -u - <(tail -n +2 "$SCRATCH/out") <<EOF
watch
-o
$home/Anki decks
$home/notes/ml
/srv/notes/a deck with  spaces
$home/notes/relative
$home
/last/line/without/newline
EOF
}

@test "wrapper: XDG defaults (~/.config/mdeck/decks, output in ~/.local/share/mdeck/out)" {
    local home=$SCRATCH/home
    mkdir -p "$home/.config/mdeck"
    fake_mdeck "$SCRATCH/bin/mdeck"
    printf 'deck one\n' >"$home/.config/mdeck/decks"
    run env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$home" PATH="$SCRATCH/bin:$PATH" sh "$WRAPPER"
    [ "$status" -eq 0 ]
    [ "${lines[1]}" = watch ]
    [ "${lines[2]}" = -o ]
    [ "${lines[3]}" = "$home/.local/share/mdeck/out" ]
    [ "${lines[4]}" = "$home/deck one" ]
    [ "${#lines[@]}" -eq 5 ]
    # XDG_DATA_HOME moves the default output folder
    run env -u XDG_CONFIG_HOME HOME="$home" XDG_DATA_HOME="$SCRATCH/data" PATH="$SCRATCH/bin:$PATH" sh "$WRAPPER"
    [ "${lines[3]}" = "$SCRATCH/data/mdeck/out" ]
}

@test "wrapper: no config file, or no deck in it, is exit 2 with a message" {
    local home=$SCRATCH/home
    mkdir -p "$home"
    fake_mdeck "$SCRATCH/bin/mdeck"
    run env HOME="$home" XDG_CONFIG_HOME="$SCRATCH/none" PATH="$SCRATCH/bin:$PATH" sh "$WRAPPER"
    [ "$status" -eq 2 ]
    [[ "$output" == *"no config file $SCRATCH/none/mdeck/decks"* ]]
    mkdir -p "$SCRATCH/cfg/mdeck"
    printf '# nothing yet\noutput=/tmp/x\n' >"$SCRATCH/cfg/mdeck/decks"
    run env HOME="$home" XDG_CONFIG_HOME="$SCRATCH/cfg" PATH="$SCRATCH/bin:$PATH" sh "$WRAPPER"
    [ "$status" -eq 2 ]
    [[ "$output" == *"lists no deck folder"* ]]
    printf 'output=\ndeck\n' >"$SCRATCH/cfg/mdeck/decks"
    run env HOME="$home" XDG_CONFIG_HOME="$SCRATCH/cfg" PATH="$SCRATCH/bin:$PATH" sh "$WRAPPER"
    [ "$status" -eq 2 ]
    [[ "$output" == *"decks:1: output= needs a folder"* ]]
}

@test "wrapper: the installed copy runs PREFIX/bin/mdeck, not the one on PATH" {
    local p=$SCRATCH/prefix home=$SCRATCH/home
    run make -C "$MDECK_TOP" --no-print-directory install PREFIX="$p"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    fake_mdeck "$p/bin/mdeck"
    mkdir -p "$home/.config/mdeck" "$SCRATCH/elsewhere"
    printf '#!/bin/sh\necho wrong mdeck\n' >"$SCRATCH/elsewhere/mdeck"
    chmod +x "$SCRATCH/elsewhere/mdeck"
    printf 'd\n' >"$home/.config/mdeck/decks"
    run env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$home" PATH="$SCRATCH/elsewhere:$PATH" \
        "$p/libexec/mdeck/mdeck-watch-user"
    [ "$status" -eq 0 ]
    [ "${lines[1]}" = watch ]
    [ "${lines[4]}" = "$home/d" ]
}

@test "wrapper + mdeck watch: READY=1 comes from the wrapper's pid, SIGTERM stops it with status 0" {
    local home=$SCRATCH/home out=$SCRATCH/home/out sock=$SHORT/notify
    mkdir -p "$home/.config/mdeck" "$SCRATCH/bin"
    small_deck "$home/my deck"
    printf 'output=out\nmy deck\n' >"$home/.config/mdeck/decks"
    ln -s "$MDECK" "$SCRATCH/bin/mdeck"
    # systemd's notify socket, recording each sender's pid (SO_PASSCRED)
    python3 - "$sock" "$SCRATCH/notify.log" 3>&- <<'PY' &
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
s.settimeout(0.5)
with open(sys.argv[2], "a") as out:
    out.write("listening\n"); out.flush()
    end = time.time() + 60
    while time.time() < end:
        try:
            msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            continue
        pid = next((struct.unpack("iii", d[:12])[0] for l, t, d in anc
                    if l == socket.SOL_SOCKET and t == socket.SCM_CREDENTIALS), -1)
        for line in msg.decode().split("\n"):
            if line:
                out.write("%d %s\n" % (pid, line)); out.flush()
        if b"STOPPING=1" in msg.split(b"\n"):
            break
PY
    PIDS="$!"
    wait_for grep -q listening "$SCRATCH/notify.log"
    env -u XDG_CONFIG_HOME -u JOURNAL_STREAM HOME="$home" NOTIFY_SOCKET="$sock" \
        PATH="$SCRATCH/bin:$PATH" sh "$WRAPPER" >/dev/null 2>"$SCRATCH/log" </dev/null 3>&- &
    local pid=$!
    PIDS="$PIDS $pid"
    wait_for grep -q ' READY=1$' "$SCRATCH/notify.log" || { cat "$SCRATCH/log" "$SCRATCH/notify.log"; false; }
    grep -qx "$pid READY=1" "$SCRATCH/notify.log"
    [ -f "$out/my deck.apkg" ]
    kill -TERM "$pid"
    local st=0
    wait "$pid" || st=$?
    cat "$SCRATCH/log"
    [ "$st" -eq 0 ]
    wait_for grep -qx "$pid STOPPING=1" "$SCRATCH/notify.log"
}

# --- make dist --------------------------------------------------------------

@test "make dist: build/mdeck-VERSION.tar.gz holds the tree and builds with make mdeck" {
    main_pass_only
    local b=$SCRATCH/b
    run make -C "$MDECK_TOP" --no-print-directory dist B="$b"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    local tgz=$b/mdeck-$VERSION.tar.gz
    [ -f "$tgz" ]
    tar -tzf "$tgz" | LC_ALL=C sort >"$SCRATCH/list"
    # one top folder, no build outputs
    ! grep -v "^mdeck-$VERSION/" "$SCRATCH/list" || false
    ! grep -E "^mdeck-$VERSION/(build|out)/|^mdeck-$VERSION/mdeck$|\\.o$" "$SCRATCH/list" || false
    local f
    for f in Makefile VERSION README.md man/mdeck.1 man/mdeck-format.5 completions/_mdeck \
        completions/mdeck.bash packaging/debian/control packaging/debian/rules \
        packaging/systemd/mdeck.service packaging/systemd/mdeck-watch-user \
        src/main.c tests/run-tests.sh; do
        grep -qx "mdeck-$VERSION/$f" "$SCRATCH/list" || { echo "missing: $f"; false; }
    done
    # every tracked file that exists is in it
    if command -v git >/dev/null && git -C "$MDECK_TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$MDECK_TOP" && git -c core.quotepath=off ls-files) | while IFS= read -r f; do
            [ ! -e "$MDECK_TOP/$f" ] || grep -qxF "mdeck-$VERSION/$f" "$SCRATCH/list" ||
                { echo "tracked but not in the tarball: $f"; exit 1; }
        done
    fi
    # it builds on its own
    mkdir "$SCRATCH/x"
    tar -C "$SCRATCH/x" -xzf "$tgz"
    run make -C "$SCRATCH/x/mdeck-$VERSION" --no-print-directory -j"$(nproc)" mdeck
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    run "$SCRATCH/x/mdeck-$VERSION/mdeck" --version
    [ "$output" = "mdeck $VERSION" ]
}

# --- the Debian package -----------------------------------------------------

@test "deb: make deb builds it with dpkg-buildpackage; lintian reports no errors" {
    deb_ready
    [ "$(dpkg-deb -f "$DEB" Package)" = mdeck ]
    [ "$(dpkg-deb -f "$DEB" Version)" = "$VERSION-1" ]
    run lintian --pedantic "$DEB_B"/deb/mdeck_"$VERSION"-1_*.changes
    echo "$output"
    ! grep -q '^E:' <<<"$output" || false
}

@test "deb: holds the binary (prints VERSION), man pages, completions, user unit; Depends computed" {
    deb_ready
    local root=$SCRATCH/root
    dpkg -x "$DEB" "$root"
    run "$root/usr/bin/mdeck" --version
    [ "$status" -eq 0 ]
    [ "$output" = "mdeck $VERSION" ]
    local f
    for f in usr/share/man/man1/mdeck.1.gz usr/share/man/man5/mdeck-format.5.gz \
        usr/lib/systemd/user/mdeck.service usr/libexec/mdeck/mdeck-watch-user \
        usr/share/bash-completion/completions/mdeck usr/share/zsh/vendor-completions/_mdeck \
        usr/share/doc/mdeck/copyright usr/share/doc/mdeck/docs/format.md.gz; do
        [ -e "$root/$f" ] || { echo "missing: $f"; false; }
    done
    zcat "$root/usr/share/man/man1/mdeck.1.gz" | grep -q "\"mdeck $VERSION\""
    grep -qx 'ExecStart=/usr/libexec/mdeck/mdeck-watch-user' "$root/usr/lib/systemd/user/mdeck.service"
    # the binary links system libraries only: ldd finds them all
    ! ldd "$root/usr/bin/mdeck" | grep -q 'not found' || false
    local dep
    dep=$(dpkg-deb -f "$DEB" Depends)
    echo "Depends: $dep"
    [[ "$dep" == *libc6* ]]
    [[ "$dep" == *libsqlite3-0* ]]
    [[ "$dep" == *libzip* ]]
    [[ "$dep" == *libxml2* ]]
    [[ "$dep" == *libmd4c* ]]
    # the user unit is installed, not enabled for every user: the only
    # enable in postinst is dh's "re-enable if it was enabled" one
    dpkg-deb -e "$DEB" "$SCRATCH/ctl"
    if grep -q 'enable' "$SCRATCH/ctl/postinst" 2>/dev/null; then
        [ "$(grep -c -- '--user enable' "$SCRATCH/ctl/postinst")" -eq 1 ]
        grep -B2 -- '--user enable' "$SCRATCH/ctl/postinst" | grep -q 'was-enabled'
    fi
}
