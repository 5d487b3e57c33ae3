using Lrml.Data;
using Lrml.Tests.Data;

namespace Lrml.Tests.Notebooks;

/// <summary>notebooks/run.sh refuses to start when it could not render what it runs.</summary>
public sealed class RunScriptTests
{
    [Fact]
    public void WithoutANotebookConverterTheRunnerStopsBeforeBuildingAnything()
    {
        string? repo = DataDirectory.FindRepositoryRoot(AppContext.BaseDirectory);
        Assert.SkipWhen(repo is null, "the repository (notebooks/run.sh) is not beside the test binaries");
        using var t = new TempDir();
        string outDir = Path.Combine(t.Path, "out");
        var (exit, output) = ScriptProcess.Bash([Path.Combine(repo!, "notebooks", "run.sh"), "--only", "00", "--out", outDir],
            new Dictionary<string, string> { ["LRML_NBCONVERT"] = Path.Combine(t.Path, "no-such-converter") });
        Assert.Equal(1, exit);
        Assert.Contains("cannot render: jupyter-nbconvert", output);
        Assert.Contains("--no-render", output);
        Assert.EndsWith("0 passed, 1 failed", output.TrimEnd());
        Assert.False(File.Exists(Path.Combine(outDir, "build.log")), "nothing was built");
    }
}
