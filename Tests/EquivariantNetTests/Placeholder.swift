import XCTest
@testable import EquivariantNet
