using Lrml.Data;

namespace Lrml.Tests.Data;

/// <summary>Readers against the official counts of the real datasets (skipped when LRML_DATA_DIR lacks them).</summary>
public class MovieLensRealDataTests
{
    [Fact]
    public void Ml100kMatchesOfficialCountsHistogramAndTimeRange()
    {
        string dir = TestData.RequireFolder("ml-100k", "u.data", "u.item", "u.genre");
        var d = MovieLens100K.Read(dir);
        Assert.Equal(100_000, d.Count);
        Assert.Equal(943, d.NumUsers);
        Assert.Equal(1_682, d.NumItems);
        var hist = new long[6];
        foreach (float r in d.Rating!) hist[(int)r]++;
        Assert.Equal(new long[] { 0, 6_110, 11_370, 27_145, 34_174, 21_201 }, hist);
        Assert.Equal(874_724_710, d.Timestamp!.Min());
        Assert.Equal(893_286_638, d.Timestamp!.Max());
        // first line of u.data is "196 242 3 881250949": user 196 and item 242 get index 0
        Assert.Equal("196", d.Users[0]);
        Assert.Equal("242", d.Items[0]);
        Assert.Equal(3f, d.Rating![0]);
        Assert.Equal(881_250_949, d.Timestamp![0]);
        Assert.Equal("06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490", d.Provenance[ProvenanceKeys.Sha256]);
        Assert.Equal("553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701", d.Provenance["items.sha256"]);
    }

    [Fact]
    public void Ml100kCatalogDecodesLatin1TitlesAndGenreFlags()
    {
        string dir = TestData.RequireFolder("ml-100k", "u.data", "u.item", "u.genre");
        var cat = MovieLens100K.Read(dir).Catalog!;
        Assert.Equal(1_682, cat.Count);
        Assert.Equal(MovieLens100K.DefaultGenres, cat.GenreNames);
        Assert.True(cat.TryGet("543", out var mis));
        Assert.Equal("Misérables, Les (1995)", mis.Title);   // byte 0xE9 in the Latin-1 file
        Assert.Equal(1995, mis.Year);
        Assert.Equal(["Drama", "Musical"], mis.Genres);
        Assert.True(cat.TryGet("1", out var toy));
        Assert.Equal("Toy Story (1995)", toy.Title);
        Assert.Equal(["Animation", "Children's", "Comedy"], toy.Genres);
        Assert.True(cat.TryGet("267", out var unknown));   // "267|unknown||||1|0|…": no title year, no date
        Assert.Equal("unknown", unknown.Title);
        Assert.Null(unknown.Year);
        Assert.Equal(["unknown"], unknown.Genres);
    }

    [Fact]
    public void Ml1mImplicitKeepsFileOrderSoItemIndicesMatchNcf()
    {
        string dir = TestData.RequireFolder("ml-1m", "ratings_implicit.dat", "movies.dat");
        if (File.Exists(Path.Combine(dir, "ratings.dat")))
            Assert.Skip("this copy of ml-1m has ratings.dat; the test pins the ratings_implicit.dat checksum");
        var d = MovieLens1M.Read(dir);
        Assert.Equal(1_000_209, d.Count);
        Assert.Equal(6_040, d.NumUsers);
        Assert.Equal(3_706, d.NumItems);
        Assert.False(d.HasRatings);
        Assert.False(d.HasTimestamps);
        Assert.Equal(0, d.Items.IndexOf("1193"));
        Assert.Equal(1, d.Items.IndexOf("661"));
        Assert.Equal(2, d.Items.IndexOf("914"));
        Assert.Equal(3, d.Items.IndexOf("3408"));
        Assert.Equal(0, d.Users.IndexOf("1"));
        Assert.Equal("6dd9c4336ac635afd027d0c3606d431eaa5f258998ff5ec9ab38c90cffd854d9", d.Provenance[ProvenanceKeys.Sha256]);
        Assert.EndsWith("ratings_implicit.dat", d.Provenance[ProvenanceKeys.File]);
    }

    [Fact]
    public void Ml1mMoviesDecodeLatin1()
    {
        string dir = TestData.RequireFolder("ml-1m", "movies.dat");
        var cat = MovieLens1M.ReadMovies(Path.Combine(dir, "movies.dat"), out string sha, out var enc);
        Assert.Equal("0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9", sha);
        Assert.Equal("iso-8859-1", enc.WebName);
        Assert.Equal(3_883, cat.Count);
        Assert.Equal(MovieLens1M.DefaultGenres, cat.GenreNames);
        Assert.True(cat.TryGet("73", out var mis));
        Assert.Equal("Misérables, Les (1995)", mis.Title);
        Assert.Equal(["Drama", "Musical"], mis.Genres);
        Assert.True(cat.TryGet("582", out var cafe));
        Assert.Equal("Metisse (Café au Lait) (1993)", cafe.Title);
        Assert.Equal(1993, cafe.Year);
    }

    [Fact]
    public void MlLatestSmallMatchesReadme()
    {
        string dir = TestData.RequireFolder("ml-latest-small", "ratings.csv", "movies.csv");
        var d = MovieLensCsv.Read(dir, "ml-latest-small");
        Assert.Equal(100_836, d.Count);
        Assert.Equal(610, d.NumUsers);
        Assert.Equal(9_724, d.NumItems);
        Assert.Equal(9_742, d.Catalog!.Count);
        Assert.Equal(0.5f, d.Rating!.Min());
        Assert.Equal(5f, d.Rating!.Max());
        Assert.All(d.Rating!, r => Assert.Equal(0f, r * 2 % 1));   // half stars only
        var first = DateTimeOffset.FromUnixTimeSeconds(d.Timestamp!.Min()).UtcDateTime;
        var last = DateTimeOffset.FromUnixTimeSeconds(d.Timestamp!.Max()).UtcDateTime;
        Assert.Equal(new DateTime(1996, 3, 29), first.Date);
        Assert.Equal(new DateTime(2018, 9, 24), last.Date);
        Assert.Equal("aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646", d.Provenance[ProvenanceKeys.Sha256]);
        Assert.Equal("5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07", d.Provenance["items.sha256"]);
        Assert.True(d.Catalog.TryGet("11", out var pres));                    // quoted title with a comma
        Assert.Equal("American President, The (1995)", pres.Title);
        Assert.Equal(["Comedy", "Drama", "Romance"], pres.Genres);
        Assert.Contains(d.Catalog.All, m => m.Genres.Count == 0);              // "(no genres listed)"
        Assert.DoesNotContain("(no genres listed)", d.Catalog.GenreNames);
    }

    [Fact]
    public void RegistryFindsAndLoadsRealDatasets()
    {
        TestData.RequireFolder("ml-100k", "u.data");
        var dir = new DataDirectory(TestData.Root);
        var names = Datasets.Available(dir).Select(a => a.Name).ToArray();
        Assert.Contains("ml-100k", names);
        Assert.Contains("synthetic", names);
        var d = Datasets.Load("ml-100k", dir);
        Assert.Equal(100_000, d.Count);
        Assert.Equal("ml-100k", d.Name);
    }

    [Fact]
    public void CardOfMl100kReportsSideInformation()
    {
        string dir = TestData.RequireFolder("ml-100k", "u.data", "u.item");
        var card = DatasetCard.From(MovieLens100K.Read(dir));
        Assert.Equal(20, card.PerUser.Min);          // every ML-100K user has at least 20 ratings
        Assert.Equal(737, card.PerUser.Max);
        Assert.Equal(100_000, card.DistinctPairs);    // no duplicate pairs
        Assert.Equal(100_000.0 / (943 * 1682), card.Density, 12);
        Assert.Contains("genres (19)", card.SideInformation);
        Assert.Equal(new DateTime(1997, 9, 20), card.TimeRange!.Value.First.UtcDateTime.Date);
        Assert.Contains("| ratings | 1: 6,110, 2: 11,370, 3: 27,145, 4: 34,174, 5: 21,201 |", card.ToMarkdown());
    }
}
