using System.Diagnostics;
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
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(repo!, "notebooks", "run.sh"));
        foreach (var a in new[] { "--only", "00", "--out", outDir }) psi.ArgumentList.Add(a);
        psi.Environment["LRML_NBCONVERT"] = Path.Combine(t.Path, "no-such-converter");
        var (exit, output) = RunToEnd(psi);
        Assert.Equal(1, exit);
        Assert.Contains("cannot render: jupyter-nbconvert", output);
        Assert.Contains("--no-render", output);
        Assert.EndsWith("0 passed, 1 failed", output.TrimEnd());
        Assert.False(File.Exists(Path.Combine(outDir, "build.log")), "nothing was built");
    }

    private static (int Exit, string Output) RunToEnd(ProcessStartInfo psi)
    {
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException("run.sh did not stop within 2 minutes"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
