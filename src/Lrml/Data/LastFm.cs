using System.Globalization;

namespace Lrml.Data;

/// <summary>
/// Reader of HetRec 2011 Last.fm-2K ("hetrec2011-lastfm-2k"): <c>user_artists.dat</c> (TAB-separated with
/// header <c>userID artistID weight</c>; weight = listening count, stored as the rating column) and artist
/// names from <c>artists.dat</c> (<c>id name url pictureURL</c>) into the catalog. Use
/// <see cref="Preprocess.ToImplicit"/> to treat every listened artist as a positive.
/// </summary>
internal static class LastFm
{
    /// <summary>The format of user_artists.dat.</summary>
    public static DelimitedFormat UserArtistsFormat { get; } = new()
    {
        Separator = "\t", HasHeader = true, ExpectedHeader = "userID\tartistID\tweight",
        FieldCount = 3, RatingColumn = 2, RatingName = "weight", BytesPerLineHint = 14, MinId = 1, MaxId = int.MaxValue,
    };

    /// <summary>Reads the dataset in <paramref name="directory"/>.</summary>
    /// <exception cref="DatasetNotFoundException">user_artists.dat is missing.</exception>
    /// <exception cref="DataFormatException">A file is malformed.</exception>
    public static Interactions Read(string directory, string name = "lastfm-2k")
    {
        string data = DatasetFiles.Require(directory, name, "user_artists.dat");
        var core = DelimitedReader.ReadCore(data, UserArtistsFormat);
        var prov = DatasetFiles.MainProvenance(data, core, "hetrec2011 lastfm user_artists.dat (weight = listening count)");
        ItemCatalog? catalog = null;
        string artists = Path.Combine(directory, "artists.dat");
        if (DatasetFiles.Optional(artists))
        {
            catalog = ReadArtists(artists, out string sha, out string enc);
            prov["items.file"] = Path.GetFullPath(artists);
            prov["items.sha256"] = sha;
            prov[ProvenanceKeys.ItemsEncoding] = enc;
        }
        return core.Builder.Build(name, core.Users, core.Items, catalog, prov);
    }

    /// <summary>Reads artists.dat (TAB-separated, header "id name url pictureURL"; only id and name are used).</summary>
    internal static ItemCatalog ReadArtists(string path, out string sha256, out string encodingName)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var enc = TextParse.DetectUtf8OrLatin1(bytes);
        encodingName = enc.WebName;
        using var r = new LineReader(new MemoryStream(bytes, writable: false), path);
        var catalog = new ItemCatalog(Array.Empty<string>());
        var seen = new HashSet<long>();
        bool header = true;
        while (r.TryReadLine(out var line))
        {
            if (TextParse.IsBlank(line)) continue;
            int tab = line.IndexOf((byte)'\t');
            if (tab < 0) throw TextParse.FieldCountError(r, line, "\t"u8, 2, 1, atLeast: true);
            if (header)
            {
                header = false;
                if (TextParse.TrimSpaces(line[..tab]).SequenceEqual("id"u8)) continue;
                throw r.Error($"unexpected header: expected \"id\\tname\\turl\\tpictureURL\", found \"{TextParse.Preview(line)}\"");
            }
            long id = TextParse.ParseId(r, line[..tab], "artist id");
            if (!seen.Add(id)) throw r.Error($"artist id {id} appears twice");
            var rest = line[(tab + 1)..];
            int end = rest.IndexOf((byte)'\t');
            string title = enc.GetString(end < 0 ? rest : rest[..end]).Trim();
            if (title.Length == 0) throw r.Error($"artist name of id {id} is empty (truncated line?)");
            catalog.Add(new ItemInfo(id.ToString(CultureInfo.InvariantCulture), title, Array.Empty<string>()));
        }
        if (catalog.Count == 0) throw new DataFormatException(path, 0, r.LineNumber == 0 ? "file is empty" : "file has no artists (only a header)");
        sha256 = r.Sha256Hex();
        return catalog;
    }
}
