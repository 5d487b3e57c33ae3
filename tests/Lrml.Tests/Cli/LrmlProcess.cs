using System.Diagnostics;

namespace Lrml.Tests.Cli;

/// <summary>Runs the real <c>lrml</c> command (Lrml.Cli.dll next to the tests) as a separate process.</summary>
internal static class LrmlProcess
{
    /// <summary>The CLI assembly copied next to the tests.</summary>
    public static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "Lrml.Cli.dll");

    /// <summary>Starts <c>dotnet Lrml.Cli.dll args…</c> with redirected output, NO_COLOR set and the given extra environment.</summary>
    public static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        Assert.True(File.Exists(Cli), $"CLI not found next to the tests: {Cli}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        return Process.Start(psi)!;
    }

    /// <summary>Runs the command to its end (at most 4 minutes); returns the exit code and standard output + error.</summary>
    public static (int Code, string Output) Run(params string[] args) => Run(args, null);

    /// <summary>As <see cref="Run(string[])"/>, with extra environment variables.</summary>
    public static (int Code, string Output) Run(string[] args, IReadOnlyDictionary<string, string>? environment)
    {
        using var p = Start(args, environment);
        var stdout = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        if (!p.WaitForExit(240_000)) { p.Kill(true); throw new TimeoutException("lrml did not finish in 4 minutes"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
