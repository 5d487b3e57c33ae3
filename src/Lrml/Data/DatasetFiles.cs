using System.Globalization;

namespace Lrml.Data;

/// <summary>
/// A dataset (or one of its required files) is not where the kit looked. The message lists every folder
/// and file that was tried and the command that downloads the dataset.
/// </summary>
internal sealed class DatasetNotFoundException : FileNotFoundException
{
    /// <summary>Registry name of the dataset, e.g. "ml-1m".</summary>
    public string Dataset { get; }

    /// <summary>Paths that were looked for.</summary>
    public IReadOnlyList<string> LookedFor { get; }

    public DatasetNotFoundException(string dataset, IReadOnlyList<string> lookedFor, string? hint = null)
        : base(BuildMessage(dataset, lookedFor, hint), lookedFor.Count > 0 ? lookedFor[0] : null)
    {
        Dataset = dataset;
        LookedFor = lookedFor;
    }

    private static string BuildMessage(string dataset, IReadOnlyList<string> lookedFor, string? hint)
    {
        var lines = new List<string> { $"Dataset '{dataset}' was not found. Looked for:" };
        lines.AddRange(lookedFor.Select(p => "  " + p));
        lines.Add(hint ?? Datasets.FetchHint(dataset));
        return string.Join(Environment.NewLine, lines);
    }
}

/// <summary>Small helpers shared by the readers: locating required files and provenance records.</summary>
internal static class DatasetFiles
{
    /// <summary>The first of <paramref name="candidates"/> (file names relative to <paramref name="directory"/>)
    /// that exists; otherwise a <see cref="DatasetNotFoundException"/> naming all of them.</summary>
    /// <exception cref="DataFormatException">The first candidate present is a directory.</exception>
    public static string Require(string directory, string dataset, params string[] candidates)
    {
        foreach (var c in candidates)
        {
            string p = Path.Combine(directory, c);
            if (Optional(p)) return p;
        }
        throw new DatasetNotFoundException(dataset, candidates.Select(c => Path.GetFullPath(Path.Combine(directory, c))).ToArray());
    }

    /// <summary>Whether the optional data file <paramref name="path"/> exists; a directory of that name is an error, never a
    /// silently absent file.</summary>
    /// <exception cref="DataFormatException"><paramref name="path"/> is a directory.</exception>
    public static bool Optional(string path)
    {
        RefuseDirectory(path);
        return File.Exists(path);
    }

    /// <summary>Throws when <paramref name="path"/> is a directory where a data file is expected.</summary>
    /// <exception cref="DataFormatException"><paramref name="path"/> is a directory.</exception>
    public static void RefuseDirectory(string path)
    {
        if (Directory.Exists(path))
            throw new DataFormatException(path, 0, "is a directory, but a data file is expected here: move the directory away or put the file in its place");
    }

    public static Dictionary<string, string> MainProvenance(string path, DelimitedReader.CoreResult core, string format) => new()
    {
        [ProvenanceKeys.File] = Path.GetFullPath(path),
        [ProvenanceKeys.Sha256] = core.Sha256,
        [ProvenanceKeys.Bytes] = core.Bytes.ToString(CultureInfo.InvariantCulture),
        [ProvenanceKeys.Format] = format,
    };
}
