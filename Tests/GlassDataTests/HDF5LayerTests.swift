import XCTest
@testable import GlassData
