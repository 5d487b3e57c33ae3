using System.Diagnostics;
using Lrml.Data;

namespace Lrml.Cli;

/// <summary>
/// <c>lrml data fetch NAME</c>: runs the kit's one download script, data-scripts/fetch.sh (checksums, resume, atomic
/// unpack), so the command and the script cannot disagree. In a clone the repository's script runs; an installed tool
/// carries byte-identical copies of fetch.sh and checksums.txt as resources and runs those (a test keeps them equal).
/// Needs bash, curl or wget, and unzip, like the script.
/// </summary>
internal static class DataFetch
{
    internal const string ScriptResource = "Lrml.Cli.fetch.sh", ChecksumsResource = "Lrml.Cli.checksums.txt";

    public static int Run(string dataset, DataDirectory dir, bool force)
    {
        string? tmp = null;
        try
        {
            string script = RepositoryScript() ?? ExtractEmbedded(tmp = Directory.CreateTempSubdirectory("lrml-fetch-").FullName);
            var psi = new ProcessStartInfo("bash") { UseShellExecute = false };
            psi.ArgumentList.Add(script);
            psi.ArgumentList.Add(dataset);
            psi.ArgumentList.Add("--data-dir");
            psi.ArgumentList.Add(dir.Root);
            if (force) psi.ArgumentList.Add("--force");
            using var p = Start(psi);
            p.WaitForExit();
            return p.ExitCode;
        }
        finally
        {
            if (tmp is not null) Directory.Delete(tmp, recursive: true);
        }
    }

    /// <summary>data-scripts/fetch.sh of the repository this tool runs from, or null outside a clone.</summary>
    internal static string? RepositoryScript() =>
        DataDirectory.FindRepositoryRoot(AppContext.BaseDirectory) is { } repo && File.Exists(Path.Combine(repo, "data-scripts", "fetch.sh"))
            ? Path.Combine(repo, "data-scripts", "fetch.sh") : null;

    /// <summary>Writes the embedded fetch.sh and checksums.txt into <paramref name="folder"/>; returns the script's path.</summary>
    internal static string ExtractEmbedded(string folder)
    {
        foreach (var (resource, file) in new[] { (ScriptResource, "fetch.sh"), (ChecksumsResource, "checksums.txt") })
        {
            using var s = typeof(DataFetch).Assembly.GetManifestResourceStream(resource)
                          ?? throw new InvalidOperationException($"The tool lacks its embedded {file} (resource {resource}): rebuild it.");
            using var f = File.Create(Path.Combine(folder, file));
            s.CopyTo(f);
        }
        return Path.Combine(folder, "fetch.sh");
    }

    internal static Process Start(ProcessStartInfo psi)
    {
        try { return Process.Start(psi) ?? throw new InvalidOperationException("bash did not start."); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"lrml data fetch runs data-scripts/fetch.sh and needs bash on the PATH ({e.Message}).", e);
        }
    }
}
