using Lrml.Data;

namespace Lrml.Tests.Data;

public class DatasetsTests
{
    [Fact]
    public void ResolvePrecedenceExplicitThenEnvironmentThenRepositoryThenWorkingDirectory()
    {
        using var t = new TempDir();
        string repo = t.Dir("checkout");
        File.WriteAllText(Path.Combine(repo, DataDirectory.SolutionFile), "");
        string nested = t.Dir("checkout/src/deep");
        t.Dir("shared/data");
        string outside = t.Dir("elsewhere");

        var explicitDir = DataDirectory.Resolve("/x/explicit", true, "/x/env", nested);
        Assert.Equal("explicit path", explicitDir.Source);
        Assert.Equal(Path.GetFullPath("/x/explicit"), explicitDir.Root);

        var env = DataDirectory.Resolve(null, true, "/x/env", nested);
        Assert.Equal(DataDirectory.EnvironmentVariable, env.Source);
        Assert.Equal([Path.GetFullPath("/x/env")], env.SearchRoots);

        var fromRepo = DataDirectory.Resolve(null, true, null, nested);
        Assert.Equal("repository", fromRepo.Source);
        Assert.Equal(Path.Combine(repo, "data"), fromRepo.Root);
        Assert.Equal([Path.Combine(repo, "data"), Path.Combine(t.Path, "shared", "data")], fromRepo.SearchRoots);
        Assert.Equal([Path.Combine(repo, "data")], DataDirectory.Resolve(null, false, null, nested).SearchRoots);

        Assert.Equal(repo, DataDirectory.FindRepositoryRoot(nested));
        Assert.Null(DataDirectory.FindRepositoryRoot(outside));
    }

    [Fact]
    public void LocateUsesOfficialFolderNamesAndARootNamedAsTheDataset()
    {
        using var t = new TempDir();
        t.File("root/ml-100k/u.data", "1\t1\t5\t881250949\n2\t1\t4\t881250950\n");
        t.File("root/hetrec2011-lastfm-2k/user_artists.dat", "userID\tartistID\tweight\n2\t51\t13883\n");
        t.File("root/netflix/combined_data_1.txt", "1:\n7,3,2005-09-06\n");
        t.File("root/ml-1m/README", "no ratings here");
        var dir = new DataDirectory(Path.Combine(t.Path, "root"));
        var found = Datasets.Available(dir).Select(a => a.Name).ToArray();
        Assert.Equal(["ml-100k", "lastfm-2k", "netflix", "synthetic"], found);
        Assert.Equal(2, Datasets.Load("ml-100k", dir).Count);
        Assert.Equal(1, Datasets.Load("hetrec2011-lastfm-2k", dir).Count);   // alias
        Assert.Equal(1, Datasets.Load("NETFLIX", dir).Count);
        // pointing the data directory straight at a dataset folder also works
        var direct = new DataDirectory(Path.Combine(t.Path, "root", "ml-100k"));
        Assert.Equal(Path.Combine(t.Path, "root", "ml-100k"), Datasets.Locate("ml-100k", direct));
    }

    [Fact]
    public void MissingDatasetSaysWhereItLookedAndHowToFetch()
    {
        using var t = new TempDir();
        var dir = new DataDirectory(t.Path);
        var e = Assert.Throws<DatasetNotFoundException>(() => Datasets.Load("ml-20m", dir));
        Assert.Equal("ml-20m", e.Dataset);
        Assert.Contains(Path.Combine(t.Path, "ml-20m", "ratings.csv"), e.Message);
        Assert.Contains($"fetch.sh ml-20m --data-dir {t.Path}", e.Message);
        var m = Assert.Throws<DatasetNotFoundException>(() => Datasets.Load("ml-1m", dir));
        Assert.Contains("ratings.dat | ratings_implicit.dat", m.Message);
        var n = Assert.Throws<DatasetNotFoundException>(() => Datasets.Load("netflix", dir));
        Assert.Contains("no longer distributed", n.Message);
        Assert.Contains(Path.Combine(t.Path, "netflix-prize-data"), n.Message);
        var x = Assert.Throws<DatasetNotFoundException>(() => Datasets.Load("ml-32m", dir));
        Assert.Contains("ml-32m.zip", x.Message);
    }

    [Fact]
    public void UnknownNameListsKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => Datasets.Get("ml-2m"));
        foreach (var name in new[] { "ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-32m", "ml-latest-small", "lastfm-2k", "netflix", "synthetic" })
            Assert.Contains(name, e.Message);
        Assert.Equal(10, Datasets.Names.Count);
    }
}
