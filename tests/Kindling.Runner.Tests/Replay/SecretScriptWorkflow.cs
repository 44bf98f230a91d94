namespace Kindling.Runner.Tests.Replay;

/// <summary>
/// A workflow written for this suite: secrets written into scripts where no variable expands (single quotes, a
/// quoted heredoc, python), as GitHub pastes them, with values that break naive substitution. Each step checks
/// itself (grep, cmp, assert; no value is spelt out in the workflow, so the spec and the plan cannot hold one); run on the real agent (HostStepLoopAgentTests) and the stub launcher (ReplaySecretScriptTests).
/// </summary>
internal static class SecretScriptWorkflow
{
    public const string Key = "top-secret";

    /// <summary>Multi-line, quotes, backslashes, &amp;, \1, $, backquotes, slashes, JSON, and a placeholder's own text.</summary>
    public const string Nasty = "it's \"dq\" & \\1 \\\\ $HOME `id` /x/ %%kindling-secret:KEY%% %%\n{\"foo\": \"bar\", \"n\": [1, 2]}\n\tlast line \\ end";

    public static (string Name, string Value)[] Secrets => [("KEY", Key), ("NASTY", Nasty)];

    public const string Yaml = """
        on: push
        jobs:
          a:
            runs-on: x
            env:
              AUTH: Bearer ${{ secrets.KEY }}
            steps:
              - name: Single quotes
                run: |
                  echo '${{ secrets.KEY }}' | grep -x 'top-secre[t]'
                  echo 'printed: ${{ secrets.KEY }}'
              - name: Double quotes under xtrace
                run: |
                  set -x
                  v="${{ secrets.KEY }}"
                  set +x
                  test "$v" = "top-secre""t"
              - name: Quoted heredoc
                env:
                  NASTY_ENV: ${{ secrets.NASTY }}
                run: |
                  cat > got <<'EOF'
                  ${{ secrets.NASTY }}
                  EOF
                  printf '%s\n' "$NASTY_ENV" | cmp - got
                  rm got
                  echo heredoc exact
                  echo "script fs: $(stat -f -c %T "$0")"
                  test "${0%/*}" = "$KINDLING_STEP_TMP"
                  echo "$0" > script-path
              - name: Script gone
                run: |
                  test ! -e "$(cat script-path)"
                  echo script gone
              - name: Python
                shell: python
                env:
                  NASTY_ENV: ${{ secrets.NASTY }}
                run: |
                  import os
                  v = r'''${{ secrets.NASTY }}'''
                  assert v == os.environ['NASTY_ENV'], 'differs'
                  print('python exact')
              - name: Derived
                run: echo '${{ env.AUTH }}' | grep -x 'Bearer top-secre[t]'
              - name: Custom shell
                shell: bash --noprofile {0}
                run: |
                  echo '${{ secrets.KEY }}' | grep -x 'top-secre[t]'
                  case "$0" in "$KINDLING_STEP_TMP"/*) echo "custom shell file in the step's tmp" ;; esac
        """;
}
