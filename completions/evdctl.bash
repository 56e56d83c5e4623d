# bash completion for evdctl(1)                              -*- shell-script -*-
#
# Commands, options, and job names (asked of the running evd with
# `evdctl list --json`, on the socket given on the command line if any;
# nothing is offered when evd is not reachable). Works with and without the
# bash-completion package.

_evdctl_jobs()
{
    local -a sock=()
    [[ -n $1 ]] && sock=(--socket "$1")
    evdctl "${sock[@]}" --timeout 3s list --json 2>/dev/null |
        grep -o '"name":"[A-Za-z0-9_.-]*"' | cut -d'"' -f4
}

# COMPREPLY from compgen's lines (names with blanks stay whole).
_evdctl_reply()
{
    mapfile -t COMPREPLY < <(compgen "$@")
}

_evdctl()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local commands="list status run next pause resume reload stats calendar history log import-crontab cluster"
    local global_opts="--socket --json --timeout --help --version"
    local cmd="" socket="" i w nargs=0 words_only=""

    # Find the command, the socket given, and how many arguments the
    # command already has (before the word being completed).
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ -z $words_only && $w == -* ]]; then
            case $w in
                --) words_only=1 ;;
                -s | --socket) ((i++)); socket=${COMP_WORDS[i]} ;;
                -t | --timeout) ((i++)) ;;
                --socket=*) socket=${w#--socket=} ;;
                -n | --iterations | -b | --base-time | -z | --timezone)
                    [[ $cmd == calendar ]] && ((i++)) ;;&
                -n | --lines | -D | --directory)
                    [[ $cmd == history || $cmd == log ]] && ((i++)) ;;
                --user)
                    [[ $cmd == import-crontab ]] && ((i++)) ;;
            esac
            continue
        fi
        if [[ -z $cmd ]]; then
            cmd=$w
        else
            ((nargs++))
        fi
    done
    # a socket path with ~ is for the shell to expand, not us
    socket=${socket/#\~/$HOME}

    case $prev in
        -s | --socket)
            _evdctl_reply -f -- "$cur"
            compopt -o filenames 2>/dev/null
            return
            ;;
        -t | --timeout)
            _evdctl_reply -W "1s 5s 30s 1min" -- "$cur"
            return
            ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            _evdctl_reply -W "$global_opts" -- "$cur"
        else
            _evdctl_reply -W "$commands" -- "$cur"
        fi
        return
    fi

    if [[ $cmd == calendar ]]; then
        case $prev in
            -z | --timezone)
                local zones
                zones=$(cd /usr/share/zoneinfo 2>/dev/null &&
                    find . -type f ! -name '*.tab' ! -name '*.zi' ! -name 'leap*' ! -path './posix/*' \
                        ! -path './right/*' 2>/dev/null | sed 's|^\./||')
                _evdctl_reply -W "$zones" -- "$cur"
                return
                ;;
            -n | --iterations | -b | --base-time) return ;;
        esac
        if [[ $cur == -* ]]; then
            _evdctl_reply -W "--iterations --base-time --timezone --json --help" -- "$cur"
        else
            _evdctl_reply -W "hourly daily weekly monthly yearly minutely cron:" -- "$cur"
            [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == cron: ]] && compopt -o nospace 2>/dev/null
        fi
        return
    fi

    # import-crontab: a user for --user, else the crontab file
    if [[ $cmd == import-crontab ]]; then
        if [[ $prev == --user ]]; then
            _evdctl_reply -u -- "$cur"
        elif [[ $cur == -* ]]; then
            _evdctl_reply -W "--user --help" -- "$cur"
        else
            _evdctl_reply -f -- "$cur"
            compopt -o filenames 2>/dev/null
        fi
        return
    fi

    # history and log read the journal: their own options, no socket
    if [[ $cmd == history || $cmd == log ]]; then
        case $prev in
            -D | --directory)
                _evdctl_reply -d -- "$cur"
                compopt -o filenames 2>/dev/null
                return
                ;;
            -n | --lines) return ;;
        esac
        if [[ $cur == -* && -z $words_only ]]; then
            if [[ $cmd == history ]]; then
                _evdctl_reply -W "--lines --json --directory --help" -- "$cur"
            else
                _evdctl_reply -W "--directory --help" -- "$cur"
            fi
            return
        fi
    elif [[ $cur == -* && -z $words_only ]]; then
        _evdctl_reply -W "--json --socket --timeout --help" -- "$cur"
        return
    fi
    case $cmd in
        run | pause | resume | status | next | history | log)
            if ((nargs == 0)); then
                _evdctl_reply -W "$(_evdctl_jobs "$socket")" -- "$cur"
            fi
            ;;
    esac
} &&
    complete -F _evdctl evdctl

# ex: filetype=sh
