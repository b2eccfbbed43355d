# bash completion for mdeck(1)                              -*- shell-script -*-
# Installed as share/bash-completion/completions/mdeck.  Self-contained (it
# does not need the bash-completion package's helpers).  Keep the commands
# and options in step with src/help.c.

_mdeck_dirs() {
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -d -- "$1")
}

# a comma-separated list of outputs: completes its last item
_mdeck_formats() {
    local done=''
    [[ $1 == *,* ]] && done=${1%,*},
    mapfile -t COMPREPLY < <(compgen -P "$done" -W 'apkg csv quizlet' -- "${1##*,}")
    compopt -o nospace 2>/dev/null
}

_mdeck() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev='' cmd='' i
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    # "--output=DIR": bash splits the word at "=" (COMP_WORDBREAKS)
    if [[ $cur == = ]]; then
        cur=
    elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    COMPREPLY=()

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W '--help --version' -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W 'build check inspect watch help' -- "$cur")
        fi
        return 0
    fi

    local opts
    case $cmd in
    build)
        case $prev in
        -o | --output) _mdeck_dirs "$cur"; return 0 ;;
        -f | --format) _mdeck_formats "$cur"; return 0 ;;
        esac
        opts='-o --output -f --format --answered-only -q --quiet -h --help'
        ;;
    check) opts='--json -h --help' ;;
    inspect)
        if [[ $cur != -* ]]; then
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -d -- "$cur"; compgen -f -X '!*.apkg' -- "$cur")
            return 0
        fi
        opts='--json -h --help'
        ;;
    watch)
        case $prev in
        -o | --output) _mdeck_dirs "$cur"; return 0 ;;
        -f | --format) _mdeck_formats "$cur"; return 0 ;;
        --debounce | --poll) return 0 ;;
        esac
        opts='-o --output --debounce --poll -f --format --answered-only -q --quiet -v --verbose -h --help'
        ;;
    help)
        ((i == COMP_CWORD - 1)) &&
            mapfile -t COMPREPLY < <(compgen -W 'build check inspect watch help' -- "$cur")
        return 0
        ;;
    *) return 0 ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
    else
        _mdeck_dirs "$cur" # deck folders
    fi
    return 0
}
complete -F _mdeck mdeck
