using System.Globalization;
using System.Text;
using Lrml.Data;
using Lrml.Protocols;

namespace Lrml.Tests.Robustness;

/// <summary>
/// One file that one of the kit's readers parses, with a tiny valid synthetic content (never dataset data),
/// the companion files the reader needs to get to it, and how the reader is called. The malformed-input corpus
/// and the property tests damage <see cref="Lines"/> and check what the reader does.
/// </summary>
internal sealed class ReaderTarget
{
    /// <summary>Short name used in the table, e.g. "ml-1m ratings.dat".</summary>
    public required string Name { get; init; }
    /// <summary>Path of the file under test relative to the dataset folder.</summary>
    public required string FileName { get; init; }
    /// <summary>Field separator of data lines.</summary>
    public required string Separator { get; init; }
    /// <summary>A separator the file does not use, for the wrong-separator fault.</summary>
    public required string OtherSeparator { get; init; }
    /// <summary>Valid content, one entry per line (the file ends with a newline).</summary>
    public required string[] Lines { get; init; }
    /// <summary>0-based index of the data line the faults damage (never the first line, so line numbers are tested).</summary>
    public required int TargetLine { get; init; }
    /// <summary>Field of data lines holding an integer id.</summary>
    public required int IdField { get; init; }
    /// <summary>Field holding a rating / weight, or null when the file has none.</summary>
    public int? RatingField { get; init; }
    /// <summary>Number of fields a data line needs.</summary>
    public required int RequiredFields { get; init; }
    /// <summary>Whether a duplicated data line is valid input (interaction files: repeated events are kept, and the
    /// splitters merge and count them). When false a duplicate is an error naming the second copy.</summary>
    public required bool DuplicatesAllowed { get; init; }
    /// <summary>Whether a lone CR ends a line in this format (RFC-4180 CSV metadata, read as records): then CR-only line
    /// ends are read like LF ones; every other reader refuses them by name.</summary>
    public bool CrEndsLines { get; init; }
    /// <summary>Whether the file's ids must lie in an index space fixed by other files (NCF files).</summary>
    public bool HasIndexSpace { get; init; }
    /// <summary>Writes the valid companion files into the dataset folder.</summary>
    public Action<string> WriteCompanions { get; init; } = _ => { };
    /// <summary>Reads the dataset folder the way the kit does; returns Interactions or a Split.</summary>
    public required Func<string, object> Read { get; init; }

    /// <summary>The valid file's bytes (LF line ends, final newline).</summary>
    public byte[] ValidBytes() => Encoding.UTF8.GetBytes(string.Join("\n", Lines) + "\n");

    /// <summary>Fields of a line of this file.</summary>
    public string[] Fields(string line) => line.Split(Separator);

    /// <summary>A line rebuilt from fields.</summary>
    public string Join(IEnumerable<string> fields) => string.Join(Separator, fields);

    public override string ToString() => Name;
}

/// <summary>The readers of the kit, each as a <see cref="ReaderTarget"/>.</summary>
internal static class ReaderTargets
{
    private static string W(string dir, string name, string content)
    {
        string p = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllBytes(p, Encoding.UTF8.GetBytes(content));
        return p;
    }

    private static readonly string[] UData = ["196\t242\t3\t881250949", "186\t302\t3\t891717742", "22\t377\t1\t878887116", "244\t51\t2\t880606923", "166\t346\t1\t886397596"];
    private static readonly string Flags19 = string.Join("|", Enumerable.Repeat("0", 18));
    private static readonly string[] UItem =
    [
        $"1|Toy Story (1995)|01-Jan-1995||http://example.org/1|0|{Flags19}",
        $"2|GoldenEye (1995)|01-Jan-1995||http://example.org/2|1|{Flags19}",
        $"3|Four Rooms (1995)|01-Jan-1995||http://example.org/3|0|{Flags19}",
        $"4|Get Shorty (1995)|01-Jan-1995||http://example.org/4|0|{Flags19}",
    ];
    private static readonly string[] Ml1mRatings = ["1::1193::5::978300760", "1::661::3::978302109", "1::914::3::978301968", "2::1193::4::978298413", "2::3408::4::978300275"];
    private static readonly string[] Ml1mMovies = ["1::Toy Story (1995)::Animation|Children's|Comedy", "2::Jumanji (1995)::Adventure|Children's|Fantasy", "3::Grumpier Old Men (1995)::Comedy|Romance", "4::Waiting to Exhale (1995)::Comedy|Drama"];
    private static readonly string[] CsvRatings = ["userId,movieId,rating,timestamp", "1,1,4.0,964982703", "1,3,4.5,964981247", "2,6,4.0,964982224", "2,47,5.0,964983815"];
    private static readonly string[] CsvMovies = ["movieId,title,genres", "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy", "2,Jumanji (1995),Adventure|Children|Fantasy", "3,Grumpier Old Men (1995),Comedy|Romance", "6,Heat (1995),Action|Crime|Thriller"];
    private static readonly string[] Combined = ["1:", "1488844,3,2005-09-06", "822109,5,2005-05-13", "885013,4,2005-10-19", "2:", "2059652,4,2005-09-05", "1209119,4,2004-05-09"];
    private static readonly string[] UserArtists = ["userID\tartistID\tweight", "2\t51\t13883", "2\t52\t11690", "3\t51\t228", "3\t53\t212"];
    private static readonly string[] Artists = ["id\tname\turl\tpictureURL", "51\tDuran Duran\thttp://example.org/51\thttp://example.org/51.jpg", "52\tMorcheeba\thttp://example.org/52\thttp://example.org/52.jpg", "53\tAir\thttp://example.org/53\thttp://example.org/53.jpg"];

    /// <summary>The generic reader's format used for its target: CSV with a header and integer ids.</summary>
    public static readonly DelimitedFormat GenericFormat = new()
    {
        Separator = ",", HasHeader = true, FieldCount = 4, RatingColumn = 2, TimestampColumn = 3,
    };

    // ---- the NCF split of a tiny ML-1M-shaped dataset (users 1..4, items 10..80 → NCF items 0..7) ----------------
    private static readonly (int User, int Item)[] NcfPairs =
        [(1, 10), (1, 20), (1, 30), (2, 20), (2, 40), (2, 50), (3, 10), (3, 60), (3, 30), (4, 70), (4, 20), (4, 80)];
    /// <summary>Negatives per test line in the tiny NCF files.</summary>
    public const int NcfNegativesPerLine = 3;
    private static readonly string[] NcfTest = ["0\t2\t5\t978300760", "1\t4\t3\t978300761", "2\t2\t4\t978300762", "3\t7\t2\t978300763"];
    private static readonly string[] NcfNegatives = ["(0,2)\t3\t4\t5", "(1,4)\t0\t2\t5", "(2,2)\t1\t3\t4", "(3,7)\t0\t2\t3"];
    private static readonly string[] NcfTrain =
    [
        "0\t0\t5\t978300750", "0\t1\t5\t978300751", "1\t1\t5\t978300752", "1\t3\t5\t978300753",
        "2\t0\t5\t978300754", "2\t5\t5\t978300755", "3\t6\t5\t978300756", "3\t1\t5\t978300757",
    ];

    /// <summary>The tiny ML-1M-shaped interactions the NCF files refer to.</summary>
    public static Interactions NcfData()
    {
        int n = NcfPairs.Length;
        var users = new IdMap(["1", "2", "3", "4"]);
        var items = new IdMap(["10", "20", "30", "40", "50", "60", "70", "80"]);
        var u = new int[n]; var i = new int[n]; var r = new float[n]; var t = new long[n];
        for (int k = 0; k < n; k++)
        {
            u[k] = users.IndexOf(NcfPairs[k].User.ToString(CultureInfo.InvariantCulture));
            i[k] = items.IndexOf(NcfPairs[k].Item.ToString(CultureInfo.InvariantCulture));
            r[k] = 4; t[k] = 978300000 + k;
        }
        return new Interactions("ml-1m", u, i, r, t, users, items);
    }

    private static readonly NcfPublicOptions NcfOptions = new() { ExpectedNegativesPerLine = NcfNegativesPerLine, SampledNegatives = 0, HoldOutValidation = false };

    private static void NcfCompanions(string dir, string except)
    {
        if (except != NcfPublic.TestRatingFile) W(dir, NcfPublic.TestRatingFile, string.Join("\n", NcfTest) + "\n");
        if (except != NcfPublic.TestNegativeFile) W(dir, NcfPublic.TestNegativeFile, string.Join("\n", NcfNegatives) + "\n");
        if (except != NcfPublic.TrainRatingFile) W(dir, NcfPublic.TrainRatingFile, string.Join("\n", NcfTrain) + "\n");
    }

    private static object ReadNcf(string dir) => NcfPublic.Build(NcfData(), dir, NcfOptions, 7);

    /// <summary>Every reader of the kit (17 files of 8 formats).</summary>
    public static IReadOnlyList<ReaderTarget> All { get; } =
    [
        new()
        {
            Name = "ml-100k u.data", FileName = "u.data", Separator = "\t", OtherSeparator = ",", Lines = UData, TargetLine = 2,
            IdField = 0, RatingField = 2, RequiredFields = 4, DuplicatesAllowed = true, Read = d => MovieLens100K.Read(d),
        },
        new()
        {
            Name = "ml-100k u.item", FileName = "u.item", Separator = "|", OtherSeparator = ",", Lines = UItem, TargetLine = 2,
            IdField = 0, RequiredFields = 24, DuplicatesAllowed = false, Read = d => MovieLens100K.Read(d),
            WriteCompanions = d => W(d, "u.data", string.Join("\n", UData) + "\n"),
        },
        new()
        {
            Name = "ml-100k u.genre", FileName = "u.genre", Separator = "|", OtherSeparator = ",",
            Lines = ["unknown|0", "Action|1", "Adventure|2", "Animation|3"], TargetLine = 2,
            IdField = 1, RequiredFields = 2, DuplicatesAllowed = false, Read = d => MovieLens100K.Read(d),
            WriteCompanions = d => W(d, "u.data", string.Join("\n", UData) + "\n"),
        },
        new()
        {
            Name = "ml-1m ratings.dat", FileName = "ratings.dat", Separator = "::", OtherSeparator = "\t", Lines = Ml1mRatings, TargetLine = 2,
            IdField = 0, RatingField = 2, RequiredFields = 4, DuplicatesAllowed = true, Read = d => MovieLens1M.Read(d),
        },
        new()
        {
            Name = "ml-1m ratings_implicit.dat", FileName = "ratings_implicit.dat", Separator = "::", OtherSeparator = "\t",
            Lines = ["1::1193", "1::661", "1::914", "2::1193", "2::3408"], TargetLine = 2,
            IdField = 1, RequiredFields = 2, DuplicatesAllowed = true, Read = d => MovieLens1M.Read(d),
        },
        new()
        {
            Name = "ml-1m movies.dat", FileName = "movies.dat", Separator = "::", OtherSeparator = "\t", Lines = Ml1mMovies, TargetLine = 2,
            IdField = 0, RequiredFields = 3, DuplicatesAllowed = false, Read = d => MovieLens1M.Read(d),
            WriteCompanions = d => W(d, "ratings.dat", string.Join("\n", Ml1mRatings) + "\n"),
        },
        new()
        {
            Name = "MovieLens ratings.csv", FileName = "ratings.csv", Separator = ",", OtherSeparator = ";", Lines = CsvRatings, TargetLine = 2,
            IdField = 1, RatingField = 2, RequiredFields = 4, DuplicatesAllowed = true, Read = d => MovieLensCsv.Read(d),
        },
        new()
        {
            Name = "MovieLens movies.csv", FileName = "movies.csv", Separator = ",", OtherSeparator = ";", Lines = CsvMovies, TargetLine = 2,
            IdField = 0, RequiredFields = 3, DuplicatesAllowed = false, Read = d => MovieLensCsv.Read(d), CrEndsLines = true,
            WriteCompanions = d => W(d, "ratings.csv", string.Join("\n", CsvRatings) + "\n"),
        },
        new()
        {
            Name = "Netflix mv_*.txt", FileName = Path.Combine("training_set", "mv_0000001.txt"), Separator = ",", OtherSeparator = ";",
            Lines = ["1:", "1488844,3,2005-09-06", "822109,5,2005-05-13", "885013,4,2005-10-19"], TargetLine = 2,
            IdField = 0, RatingField = 1, RequiredFields = 3, DuplicatesAllowed = true, Read = d => NetflixPrize.Read(d),
            WriteCompanions = d => W(d, Path.Combine("training_set", "mv_0000002.txt"), "2:\n2059652,4,2005-09-05\n"),
        },
        new()
        {
            Name = "Netflix combined_data", FileName = "combined_data_1.txt", Separator = ",", OtherSeparator = ";", Lines = Combined, TargetLine = 5,
            IdField = 0, RatingField = 1, RequiredFields = 3, DuplicatesAllowed = true, Read = d => NetflixPrize.Read(d),
        },
        new()
        {
            Name = "Netflix movie_titles.csv", FileName = "movie_titles.csv", Separator = ",", OtherSeparator = ";",
            Lines = ["1,2003,Dinosaur Planet", "2,2004,Isle of Man TT 2004 Review", "3,1997,Character"], TargetLine = 1,
            IdField = 0, RequiredFields = 3, DuplicatesAllowed = false, Read = d => NetflixPrize.Read(d),
            WriteCompanions = d => W(d, "combined_data_1.txt", string.Join("\n", Combined) + "\n"),
        },
        new()
        {
            Name = "Last.fm user_artists.dat", FileName = "user_artists.dat", Separator = "\t", OtherSeparator = ",", Lines = UserArtists, TargetLine = 2,
            IdField = 1, RatingField = 2, RequiredFields = 3, DuplicatesAllowed = true, Read = d => LastFm.Read(d),
        },
        new()
        {
            Name = "Last.fm artists.dat", FileName = "artists.dat", Separator = "\t", OtherSeparator = ",", Lines = Artists, TargetLine = 2,
            IdField = 0, RequiredFields = 2, DuplicatesAllowed = false, Read = d => LastFm.Read(d),
            WriteCompanions = d => W(d, "user_artists.dat", string.Join("\n", UserArtists) + "\n"),
        },
        new()
        {
            Name = "DelimitedReader (CSV, header)", FileName = "plays.csv", Separator = ",", OtherSeparator = "\t",
            Lines = ["user,item,rating,timestamp", "7,100,4.5,964982703", "7,101,3,964982704", "8,100,1,964982705", "9,102,2.5,964982706"],
            TargetLine = 2, IdField = 0, RatingField = 2, RequiredFields = 4, DuplicatesAllowed = true,
            Read = d => DelimitedReader.Read(Path.Combine(d, "plays.csv"), GenericFormat),
        },
        new()
        {
            Name = "NCF test.rating", FileName = NcfPublic.TestRatingFile, Separator = "\t", OtherSeparator = " ", Lines = NcfTest, TargetLine = 1,
            IdField = 1, RatingField = 2, RequiredFields = 4, DuplicatesAllowed = false, HasIndexSpace = true, Read = ReadNcf,
            WriteCompanions = d => NcfCompanions(d, NcfPublic.TestRatingFile),
        },
        new()
        {
            Name = "NCF test.negative", FileName = NcfPublic.TestNegativeFile, Separator = "\t", OtherSeparator = " ", Lines = NcfNegatives, TargetLine = 1,
            IdField = 1, RequiredFields = 1 + NcfNegativesPerLine, DuplicatesAllowed = false, HasIndexSpace = true, Read = ReadNcf,
            WriteCompanions = d => NcfCompanions(d, NcfPublic.TestNegativeFile),
        },
        new()
        {
            Name = "NCF train.rating", FileName = NcfPublic.TrainRatingFile, Separator = "\t", OtherSeparator = " ", Lines = NcfTrain, TargetLine = 2,
            IdField = 0, RatingField = 2, RequiredFields = 4, DuplicatesAllowed = true, HasIndexSpace = true, Read = ReadNcf,
            WriteCompanions = d => NcfCompanions(d, NcfPublic.TrainRatingFile),
        },
    ];
}
