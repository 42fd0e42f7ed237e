# bash completion for mesh (installed to share/bash-completion/completions/mesh).
# Command names come from `mesh help --list` (built-ins plus the verbs of the running daemon's
# plugins), flags from `mesh help --flags COMMAND`, so the lists never drift from the binary.
_mesh() {
  local cur prev mesh_bin cmd i
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev=""
  [ "$COMP_CWORD" -gt 0 ] && prev="${COMP_WORDS[COMP_CWORD-1]}"
  mesh_bin="${COMP_WORDS[0]}"
  local -a root=()
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      --root) root=(--root "${COMP_WORDS[i+1]}"); ((i++)) ;;
      --root=*) root=("${COMP_WORDS[i]}") ;;
      --) break ;;
      -*) ;;
      *) [ -z "$cmd" ] && cmd="${COMP_WORDS[i]}" ;;
    esac
  done
  if [ "$prev" = "--root" ]; then
    COMPREPLY=($(compgen -d -- "$cur"))
    return 0
  fi
  if [ -z "$cmd" ]; then
    if [[ "$cur" == -* ]]; then
      COMPREPLY=($(compgen -W "--root --json --help --version" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$("$mesh_bin" "${root[@]}" help --list 2>/dev/null)" -- "$cur"))
    fi
    return 0
  fi
  if [ "$cmd" = "help" ]; then
    COMPREPLY=($(compgen -W "$("$mesh_bin" "${root[@]}" help --list 2>/dev/null)" -- "$cur"))
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$("$mesh_bin" "${root[@]}" help --flags "$cmd" 2>/dev/null)" -- "$cur"))
    return 0
  fi
  # Arguments: paths (add-repo PATH, --root DIR) are the common case.
  COMPREPLY=($(compgen -f -- "$cur"))
  return 0
}
complete -F _mesh mesh
