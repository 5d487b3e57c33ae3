namespace Lrml.Data;

/// <summary>One known dataset: its name, where it is looked for, how it is fetched.</summary>
/// <param name="Name">Registry name, e.g. "ml-1m".</param>
/// <param name="Description">One line on what it is and its licence.</param>
/// <param name="Folders">Folder names tried under each data root, in order (the official archive's folder first).</param>
/// <param name="LookFor">Files of which at least one must exist in the folder.</param>
/// <param name="FetchName">Name for data-scripts/fetch.sh, or null when the data must be obtained by hand.</param>
/// <param name="ManualHint">What to do when the data cannot be fetched by the script.</param>
public sealed record DatasetInfo(string Name, string Description, IReadOnlyList<string> Folders, IReadOnlyList<string> LookFor,
    string? FetchName, string? ManualHint = null)
{
    internal Func<string, string, Interactions> Loader { get; init; } = (_, _) => throw new InvalidOperationException();
    internal Func<string, bool>? Present { get; init; }
    /// <summary>The definition of a dataset of one's own (<see cref="Datasets.Register"/>), else null.</summary>
    internal FileDataset? Own { get; init; }
    internal bool IsPresentIn(string folder) => Present?.Invoke(folder) ?? LookFor.Any(f => Path.Exists(Path.Combine(folder, f))); // a directory in a file's place is found, then refused by the reader
}

/// <summary>Where a dataset was found.</summary>
public sealed record DatasetLocation(string Name, string Folder);

/// <summary>
/// Registry of the datasets the kit knows: <c>ml-100k</c>, <c>ml-1m</c>, <c>ml-10m</c>, <c>ml-20m</c>,
/// <c>ml-25m</c>, <c>ml-32m</c>, <c>ml-latest-small</c>, <c>lastfm-2k</c>, <c>netflix</c> and the embedded
/// <c>synthetic</c> (always available). <see cref="Load"/> finds a dataset under a <see cref="DataDirectory"/>
/// and reads it with the right reader; a missing dataset raises a <see cref="DatasetNotFoundException"/> that
/// lists the folders and files looked for and the fetch command. A data file of one's own (<see cref="FileDataset"/>) joins them
/// under its name for the process with <see cref="Register"/>.
/// </summary>
public static class Datasets
{
    private const string GroupLensTerms = "GroupLens licence: research use, cite Harper & Konstan 2015, no redistribution";

    /// <summary>All known datasets.</summary>
    public static IReadOnlyList<DatasetInfo> All { get; } =
    [
        new("ml-100k", $"MovieLens 100K: 100,000 ratings 1–5, 943 users, 1,682 movies, timestamps, 19 genres ({GroupLensTerms})",
            ["ml-100k"], ["u.data"], "ml-100k") { Loader = (d, n) => MovieLens100K.Read(d, n) },
        new("ml-1m", $"MovieLens 1M: 1,000,209 ratings 1–5, 6,040 users, 3,706 rated movies, timestamps, 18 genres ({GroupLensTerms})",
            ["ml-1m"], ["ratings.dat", "ratings_implicit.dat"], "ml-1m") { Loader = (d, n) => MovieLens1M.Read(d, n) },
        new("ml-10m", $"MovieLens 10M: 10,000,054 half-star ratings, 69,878 users, 10,677 movies ({GroupLensTerms})",
            ["ml-10M100K", "ml-10m"], ["ratings.dat"], "ml-10m") { Loader = (d, n) => MovieLens1M.Read(d, n) },
        new("ml-20m", $"MovieLens 20M: 20,000,263 half-star ratings, 138,493 users, 26,744 movies ({GroupLensTerms})",
            ["ml-20m"], ["ratings.csv"], "ml-20m") { Loader = (d, n) => MovieLensCsv.Read(d, n) },
        new("ml-25m", $"MovieLens 25M: 25,000,095 half-star ratings, 162,541 users, 59,047 movies ({GroupLensTerms})",
            ["ml-25m"], ["ratings.csv"], "ml-25m") { Loader = (d, n) => MovieLensCsv.Read(d, n) },
        new("ml-32m", $"MovieLens 32M: 32,000,204 half-star ratings, 200,948 users, 87,585 movies ({GroupLensTerms})",
            ["ml-32m"], ["ratings.csv"], null,
            "download https://files.grouplens.org/datasets/movielens/ml-32m.zip by hand, check it against the .md5 published next to it, and unzip it")
            { Loader = (d, n) => MovieLensCsv.Read(d, n) },
        new("ml-latest-small", "MovieLens latest-small (2018 build): 100,836 half-star ratings, 610 users, 9,742 movies (GroupLens licence; redistribution allowed under the same terms)",
            ["ml-latest-small"], ["ratings.csv"], "ml-latest-small") { Loader = (d, n) => MovieLensCsv.Read(d, n) },
        new("lastfm-2k", "HetRec 2011 Last.fm 2K: 92,834 user–artist listening counts, 1,892 users, 17,632 artists (non-commercial use)",
            ["hetrec2011-lastfm-2k", "lastfm-2k"], ["user_artists.dat"], "lastfm-2k") { Loader = (d, n) => LastFm.Read(d, n) },
        new("netflix", "Netflix Prize training set: 100,480,507 ratings 1–5, 480,189 users, 17,770 movies, dates (no longer distributed; obtain by hand)",
            ["netflix", "netflix-prize-data", "nf_prize_dataset"], ["training_set/mv_*.txt", "mv_*.txt", "combined_data_*.txt"], null,
            "the Netflix Prize data is no longer distributed: obtain a copy by hand (e.g. the Kaggle mirror \"netflix-prize-data\" with combined_data_1..4.txt) and see data-scripts/README.md")
        {
            Loader = (d, n) => NetflixPrize.Read(d, n),
            Present = d =>
            {
                try { NetflixPrize.FindFiles(d, out _); return Directory.Exists(d); }
                catch (DatasetNotFoundException) { return false; }
            },
        },
        new("synthetic", "Synthetic planted-relation data (embedded, generated from a seed; see SyntheticData)",
            [], [], null) { Loader = (_, _) => SyntheticData.Generate(new SyntheticOptions()).Data, Present = _ => true },
    ];

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["hetrec2011-lastfm-2k"] = "lastfm-2k", ["lastfm"] = "lastfm-2k", ["ml-10M100K"] = "ml-10m",
        ["movielens-100k"] = "ml-100k", ["movielens-1m"] = "ml-1m", ["movielens-20m"] = "ml-20m",
    };

    /// <summary>Registry names of all known datasets.</summary>
    public static IReadOnlyList<string> Names => All.Select(d => d.Name).ToArray();

    /// <summary>The entry of a dataset name (case-insensitive; a few aliases such as "hetrec2011-lastfm-2k"), or of a dataset
    /// of one's own registered in this process (<see cref="Register"/>).</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static DatasetInfo Get(string name)
    {
        string key = Aliases.TryGetValue(name, out var a) ? a : name;
        var info = All.FirstOrDefault(d => string.Equals(d.Name, key, StringComparison.OrdinalIgnoreCase));
        if (info is null) lock (Own) Own.TryGetValue(name, out info);
        return info ?? throw new ArgumentException($"Unknown dataset '{name}'. Known: {string.Join(", ", Names)}; " +
                                                   "or a data file of your own (README, \"Your own data\").");
    }

    /// <summary>Whether <paramref name="name"/> is a built-in dataset or one of their aliases.</summary>
    internal static bool IsBuiltIn(string name) => Aliases.ContainsKey(name) || All.Any(d => string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase));

    private static readonly Dictionary<string, DatasetInfo> Own = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Makes a dataset of one's own known in this process under its name, so that every command and experiment
    /// reads it like a built-in one (a later registration of the same name replaces it).</summary>
    internal static DatasetInfo Register(FileDataset dataset)
    {
        var info = new DatasetInfo(dataset.Name, $"Your own data: {dataset.File} ({dataset.Describe()})", [], [Path.GetFileName(dataset.File)], null)
        {
            Loader = (_, _) => dataset.Read(), Present = _ => File.Exists(dataset.File), Own = dataset,
        };
        lock (Own) Own[dataset.Name] = info;
        return info;
    }

    /// <summary>The folder holding a dataset under <paramref name="dir"/>, or null when absent
    /// ("synthetic" has no folder and returns "(embedded)").</summary>
    public static string? Locate(string name, DataDirectory dir)
    {
        var info = Get(name);
        if (info.Name == "synthetic") return "(embedded)";
        if (info.Own is { } own) return File.Exists(own.File) ? Path.GetDirectoryName(own.File) : null;
        foreach (var folder in info.Folders)
            foreach (var candidate in dir.Candidates(folder))
                if (Directory.Exists(candidate) && info.IsPresentIn(candidate)) return Path.GetFullPath(candidate);
        return null;
    }

    /// <summary>Loads a dataset by name from <paramref name="dir"/> (default: <see cref="DataDirectory.Resolve(string?, bool)"/>).</summary>
    /// <exception cref="DatasetNotFoundException">The dataset is not present; the message says where the kit looked
    /// and how to fetch it.</exception>
    public static Interactions Load(string name, DataDirectory? dir = null)
    {
        dir ??= DataDirectory.Resolve();
        var info = Get(name);
        if (info.Own is { } own) return own.Read();   // a missing file: the reader names it
        string? folder = Locate(info.Name, dir);
        if (folder is null)
        {
            var looked = new List<string>();
            foreach (var f in info.Folders)
                foreach (var c in dir.Candidates(f))
                    looked.Add(Path.Combine(c, info.LookFor.Count == 1 ? info.LookFor[0] : "{" + string.Join(" | ", info.LookFor) + "}"));
            throw new DatasetNotFoundException(info.Name, looked, FetchHint(info.Name, dir));
        }
        return info.Loader(folder, info.Name);
    }

    /// <summary>The datasets present under <paramref name="dir"/> (always including "synthetic").</summary>
    public static IReadOnlyList<DatasetLocation> Available(DataDirectory dir)
    {
        var found = new List<DatasetLocation>();
        foreach (var info in All)
        {
            string? folder = Locate(info.Name, dir);
            if (folder is not null) found.Add(new DatasetLocation(info.Name, folder));
        }
        return found;
    }

    /// <summary>The data-scripts/fetch.sh target that downloads the published NCF split files of ML-1M into ml-1m/ncf.</summary>
    public const string NcfFetchTarget = "ml-1m-ncf";

    /// <summary>How to obtain a dataset: the fetch command, or the manual steps.</summary>
    public static string FetchHint(string name, DataDirectory? dir = null)
    {
        DatasetInfo? info = All.FirstOrDefault(d => string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase));
        string? repo = DataDirectory.FindRepositoryRoot();
        string script = repo is null ? "data-scripts/fetch.sh" : Path.Combine(repo, "data-scripts", "fetch.sh");
        if (info?.FetchName is string fetch) return FetchCommand(fetch, dir);
        if (info?.ManualHint is string manual)
            return $"It cannot be fetched automatically: {manual}" + (info.Folders.Count > 0 && dir is not null ? $"; put it in {Path.Combine(dir.Root, info.Folders[0])}" : "") + ".";
        return $"See data-scripts/README.md ({script} --list shows what can be fetched).";
    }

    /// <summary>"Fetch it with: …/fetch.sh <paramref name="target"/> --data-dir …" for a fetch.sh target (a dataset's
    /// <see cref="DatasetInfo.FetchName"/>, or <see cref="NcfFetchTarget"/>).</summary>
    public static string FetchCommand(string target, DataDirectory? dir = null)
    {
        string? repo = DataDirectory.FindRepositoryRoot();
        string script = repo is null ? "data-scripts/fetch.sh" : Path.Combine(repo, "data-scripts", "fetch.sh");
        return $"Fetch it with: {script} {target}" + (dir is null ? "" : $" --data-dir {dir.Root}");
    }
}
