using System.Diagnostics;
using Kindling.Runner.Replay;

namespace Kindling.Runner.Tests.Replay;

public sealed class CustomShellTests
{
    [Theory]
    [InlineData("perl {0}", true)]
    [InlineData("node --trace-warnings {0}", true)]
    [InlineData("cp {0} action.yml", true)]
    [InlineData("ruby --file={0}", true)]
    [InlineData("perl", false)]
    [InlineData("pwsh -v '. {0}'", false)]
    [InlineData("sh -c \"cat {0}\"", false)]
    [InlineData("cat {0}; rm -rf /", false)]
    public void IsTemplate_PlainWordsWithPlaceholder_Only(string shell, bool expected) => Assert.Equal(expected, CustomShell.IsTemplate(shell));

    [Fact]
    public void Wrap_RunBySh_CommandGetsTheScriptFile()
    {
        string dir = Directory.CreateTempSubdirectory("kindling-custom-shell-").FullName;
        try
        {
            string script = "first line with 'quotes' and $HOME\nKINDLING_STEP_SCRIPT\nlast";
            string wrapper = CustomShell.Wrap("cp {0} copied.txt", script);

            using var sh = Process.Start(new ProcessStartInfo("sh", ["-e", "-c", wrapper]) { WorkingDirectory = dir, Environment = { ["RUNNER_TEMP"] = dir } })!;
            sh.WaitForExit();

            Assert.Equal(0, sh.ExitCode);
            Assert.Equal(script + "\n", File.ReadAllText(Path.Combine(dir, "copied.txt")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Plan_CustomTemplate_ShStepRunningTheTemplate()
    {
        var wf = Kindling.Runner.Replay.Workflows.WorkflowParser.Parse(
            "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - run: print 1\n        shell: perl {0}\n", "w.yml");

        Kindling.Runner.Jobs.StepSpec step = ReplayPlanner.Plan(wf, "j", ReplayCorpus.Inputs()).Single().Spec.Steps[0];

        Assert.Equal(ShellNames.Sh, step.Shell);
        Assert.Contains("<<'KINDLING_STEP_SCRIPT'\nprint 1\nKINDLING_STEP_SCRIPT\n", step.Run, StringComparison.Ordinal);
        Assert.EndsWith("exec 'perl' \"$kindling_script\"", step.Run, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_CustomTemplateWithSecretInScript_FileInTheAgentsRamFolder()
    {
        var wf = Kindling.Runner.Replay.Workflows.WorkflowParser.Parse(
            "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - run: print '${{ secrets.T }}'\n        shell: perl {0}\n", "w.yml");

        Kindling.Runner.Jobs.StepSpec step = ReplayPlanner.Plan(wf, "j", ReplayCorpus.Inputs(("T", "v"))).Single().Spec.Steps[0];

        Assert.Contains("<<'KINDLING_STEP_SCRIPT'\nprint '%%kindling-secret:T%%'\nKINDLING_STEP_SCRIPT\n", step.Run, StringComparison.Ordinal);
        Assert.StartsWith("kindling_script=\"$(mktemp \"${KINDLING_STEP_TMP:?}/kindling-step-XXXXXX\")\"", step.Run, StringComparison.Ordinal);
    }
}
