namespace Lrml.Data;

/// <summary>
/// The data root(s) where datasets live, one folder per dataset named as its official archive unpacks
/// (ml-100k, ml-1m, ml-20m, ml-latest-small, hetrec2011-lastfm-2k, netflix, …).
/// <see cref="Resolve(string?, bool)"/> picks the root by precedence: explicit path &gt; environment variable
/// <c>LRML_DATA_DIR</c> &gt; <c>&lt;repository root&gt;/data</c> (the folder holding Lrml.Research.sln, found by
/// walking up) &gt; <c>./data</c>. Without an explicit path or variable, a sibling <c>../shared/data</c> of the
/// repository (the layout of this project's shared read-only copies) is searched after the repository's own
/// data folder.
/// </summary>
public sealed class DataDirectory
{
    /// <summary>Name of the environment variable that points at a data root.</summary>
    public const string EnvironmentVariable = "LRML_DATA_DIR";

    /// <summary>File that marks the repository root.</summary>
    public const string SolutionFile = "Lrml.Research.sln";

    /// <summary>The primary root: where fetch.sh writes and where messages tell the user to put data.</summary>
    public string Root { get; }

    /// <summary>All roots searched, in order (the primary root first).</summary>
    public IReadOnlyList<string> SearchRoots { get; }

    /// <summary>How the root was chosen: "explicit path", "LRML_DATA_DIR", "repository" or "working directory".</summary>
    public string Source { get; }

    /// <summary>A data directory with a single root.</summary>
    public DataDirectory(string root) : this(root, [root], "explicit path") { }

    private DataDirectory(string root, IReadOnlyList<string> searchRoots, string source)
    {
        Root = Path.GetFullPath(root);
        SearchRoots = searchRoots.Select(Path.GetFullPath).Distinct().ToArray();
        Source = source;
    }

    /// <summary>Resolves the data root (see the class summary for the precedence).</summary>
    /// <param name="explicitPath">A path given by the user (command line, notebook parameter); wins when set.</param>
    /// <param name="includeSharedLayout">Whether to search a sibling ../shared/data of the repository as a last
    /// resort (only when neither an explicit path nor LRML_DATA_DIR is set).</param>
    public static DataDirectory Resolve(string? explicitPath = null, bool includeSharedLayout = true) =>
        Resolve(explicitPath, includeSharedLayout, Environment.GetEnvironmentVariable(EnvironmentVariable), Directory.GetCurrentDirectory());

    /// <summary>Resolution with the environment value and working directory given (testable without touching
    /// the process environment).</summary>
    internal static DataDirectory Resolve(string? explicitPath, bool includeSharedLayout, string? environmentValue, string workingDirectory)
    {
        if (!string.IsNullOrWhiteSpace(explicitPath)) return new DataDirectory(explicitPath, [explicitPath], "explicit path");
        if (!string.IsNullOrWhiteSpace(environmentValue)) return new DataDirectory(environmentValue, [environmentValue], EnvironmentVariable);
        string? repo = FindRepositoryRoot(workingDirectory) ?? FindRepositoryRoot(AppContext.BaseDirectory);
        if (repo is not null)
        {
            string primary = Path.Combine(repo, "data");
            var roots = new List<string> { primary };
            string shared = Path.GetFullPath(Path.Combine(repo, "..", "shared", "data"));
            if (includeSharedLayout && Directory.Exists(shared)) roots.Add(shared);
            return new DataDirectory(primary, roots, "repository");
        }
        string cwd = Path.Combine(workingDirectory, "data");
        return new DataDirectory(cwd, [cwd], "working directory");
    }

    /// <summary>The repository root (folder holding Lrml.Research.sln), walking up from
    /// <paramref name="start"/>, else from the working directory, else from the application's folder.</summary>
    public static string? FindRepositoryRoot(string? start = null)
    {
        foreach (var s in start is not null ? [start] : new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            var d = new DirectoryInfo(Path.GetFullPath(s));
            while (d is not null)
            {
                if (File.Exists(Path.Combine(d.FullName, SolutionFile))) return d.FullName;
                d = d.Parent;
            }
        }
        return null;
    }

    /// <summary>Candidate folders for a dataset folder name, in search order: root/name for every root, and a
    /// root itself when it is named so (a user may point the data directory straight at "ml-1m").</summary>
    public IEnumerable<string> Candidates(string folderName)
    {
        foreach (var root in SearchRoots)
        {
            if (string.Equals(Path.GetFileName(root.TrimEnd(Path.DirectorySeparatorChar)), folderName, StringComparison.Ordinal))
                yield return root;
            yield return Path.Combine(root, folderName);
        }
    }

    public override string ToString() => $"{Root} ({Source}" + (SearchRoots.Count > 1 ? $"; also {string.Join(", ", SearchRoots.Skip(1))}" : "") + ")";
}
